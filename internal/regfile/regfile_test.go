package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/regfile/regfiletest"
)

func TestReadRefusesAnythingButARegularFile(t *testing.T) {
	for typ, p := range regfiletest.Hostile(t, t.TempDir()) {
		var err error
		regfiletest.Within(t, 5*time.Second, typ, func() { _, err = Read(p, 1<<20) })
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), typ) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v; want one naming the path and %q", typ, err, typ)
		}
	}
}

func TestReadBoundsTheSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 1<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p, 1<<20)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1 MiB") || !strings.Contains(err.Error(), p) {
		t.Errorf("over the limit: err = %v", err)
	}
	if b, err := Read(p, 1<<20+1); err != nil || len(b) != 1<<20+1 {
		t.Errorf("at the limit: %d bytes, err = %v", len(b), err)
	}
}

func TestReadRegularAndMissing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("hello\n"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(p, link)
	for _, q := range []string{p, link} {
		if b, err := Read(q, 64); err != nil || string(b) != "hello\n" {
			t.Errorf("%s: %q, %v", q, b, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "gone"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
