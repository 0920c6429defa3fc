package flagfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/regfile/regfiletest"
)

// hostileFlags makes one flag path per kind of file that is not a regular
// file, plus a regular file too large to be a flag, and returns them by the
// type the error must name.
func hostileFlags(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := regfiletest.Hostile(t, dir)
	huge := filepath.Join(dir, "huge")
	if err := os.WriteFile(huge, []byte("message = \""+strings.Repeat("x", MaxSize)+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths["longer than 1 MiB"] = huge
	return paths
}

// TestReadHostileFlag: a flag path that is not a regular file, or is one
// too large, means maintenance on with no metadata, and the error names
// the path and what it is; nothing blocks.
func TestReadHostileFlag(t *testing.T) {
	for typ, p := range hostileFlags(t) {
		var present bool
		var f Flag
		var err error
		regfiletest.Within(t, 5*time.Second, typ, func() { present, f, err = Read(p) })
		if !present || f.Message != "" || err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: present=%v message=%d bytes err=%v; want present, no metadata, an error naming %s and %q", typ, present, len(f.Message), err, p, typ)
		}
	}
}

// TestOnOffOverHostileFlag: what `maintgate on` and `off` do with the flag
// (read it, write it, remove it, write the state map) returns whatever sits
// at the flag or state map path; on replaces a FIFO or file by a flag.
func TestOnOffOverHostileFlag(t *testing.T) {
	for typ, p := range hostileFlags(t) {
		regfiletest.Within(t, 5*time.Second, typ, func() {
			Read(p)
			err := Write(p, Flag{Message: "back soon"})
			if typ == "directory" {
				if err == nil {
					t.Errorf("%s: on over a directory did not fail", typ)
				}
				return
			}
			if present, f, err := Read(p); err != nil || !present || f.Message != "back soon" {
				t.Errorf("%s: after on: present=%v message=%q err=%v", typ, present, f.Message, err)
			}
			if err := Remove(p); err != nil {
				t.Errorf("%s: off: %v", typ, err)
			}
		})
	}
	for typ, p := range hostileFlags(t) {
		regfiletest.Within(t, 5*time.Second, "state map: "+typ, func() {
			if s := ReadState(p); s != "" {
				t.Errorf("state map that is a %s read as %q", typ, s)
			}
			_, err := WriteState(p, On)
			if typ != "directory" && (err != nil || ReadState(p) != On) {
				t.Errorf("state map over a %s: err=%v state=%q", typ, err, ReadState(p))
			}
		})
	}
}
