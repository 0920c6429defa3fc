package flagfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadStates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "flag")

	if present, _, err := Read(p); present || err != nil {
		t.Fatalf("missing file: present=%v err=%v", present, err)
	}
	if present, _, err := Read(filepath.Join(dir, "gone", "flag")); present || err != nil {
		t.Fatalf("missing dir: present=%v err=%v", present, err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	present, f, err := Read(p)
	if !present || err != nil || !f.ActiveAt(time.Now()) {
		t.Fatalf("touched file: present=%v err=%v active=%v", present, err, f.ActiveAt(time.Now()))
	}
	if err := os.WriteFile(p, []byte("this is = = not toml"), 0o644); err != nil {
		t.Fatal(err)
	}
	present, _, err = Read(p)
	if !present || err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("garbage file: present=%v err=%v (want present with an error naming the file)", present, err)
	}
	// A file path that is a directory: present, unreadable, fail closed.
	d := filepath.Join(dir, "isdir")
	os.Mkdir(d, 0o755)
	if present, _, err := Read(d); !present || err == nil {
		t.Fatalf("directory: present=%v err=%v", present, err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "flag")
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	in := Flag{Message: "Upgrade \"db\"\nback soon", Start: now, Until: now.Add(2 * time.Hour), Allow: []string{"203.0.113.7", "2001:db8::/32"}, SetAt: now, SetBy: "root"}
	if err := Write(p, in); err != nil {
		t.Fatal(err)
	}
	present, out, err := Read(p)
	if !present || err != nil {
		t.Fatal(present, err)
	}
	if out.Message != in.Message || !out.Until.Equal(in.Until) || !out.Start.Equal(in.Start) || strings.Join(out.Allow, ",") != strings.Join(in.Allow, ",") {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f := Flag{Start: t0, Until: t0.Add(time.Hour)}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{t0.Add(-time.Second), false}, {t0, true}, {t0.Add(59 * time.Minute), true}, {t0.Add(time.Hour), false}} {
		if got := f.ActiveAt(c.at); got != c.want {
			t.Errorf("ActiveAt(%s) = %v, want %v", c.at, got, c.want)
		}
	}
}

func TestStateMap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.map")
	if ReadState(p) != "" {
		t.Fatal("missing state map read as a state")
	}
	changed, err := WriteState(p, On)
	if err != nil || !changed || ReadState(p) != On {
		t.Fatalf("write on: changed=%v err=%v state=%q", changed, err, ReadState(p))
	}
	fi1, _ := os.Stat(p)
	changed, err = WriteState(p, On)
	if err != nil || changed {
		t.Fatalf("rewrite of the same state: changed=%v err=%v", changed, err)
	}
	fi2, _ := os.Stat(p)
	if !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Error("same state rewrote the file (Apache would re-read it)")
	}
	if changed, _ := WriteState(p, Off); !changed || ReadState(p) != Off {
		t.Fatal("write off")
	}
}

func TestParseWhen(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, loc)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "90m", want: now.Add(90 * time.Minute)},
		{in: "14:30", want: time.Date(2026, 11, 25, 14, 30, 0, 0, loc)},
		{in: "09:00", want: time.Date(2026, 11, 26, 9, 0, 0, 0, loc)},
		{in: "2026-12-01 06:00", want: time.Date(2026, 12, 1, 6, 0, 0, 0, loc)},
		{in: "2026-12-01T06:00:00Z", want: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)},
		{in: "-5m", err: true},
		{in: "tomorrow", err: true},
	}
	for _, tc := range tests {
		got, err := ParseWhen(tc.in, now)
		if (err != nil) != tc.err || (!tc.err && !got.Equal(tc.want)) {
			t.Errorf("ParseWhen(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
