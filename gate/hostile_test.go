package gate

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/rewritemap"
)

// hostile puts at name in s one kind of file that is not a small regular
// file and returns what the log must call it.
var hostile = map[string]func(t *testing.T, p string) error{
	"named pipe (FIFO)": func(t *testing.T, p string) error { return syscall.Mkfifo(p, 0o600) },
	"character device":  func(t *testing.T, p string) error { return os.Symlink("/dev/zero", p) },
	"directory":         func(t *testing.T, p string) error { return os.Mkdir(p, 0o700) },
	"socket": func(t *testing.T, p string) error {
		l, err := net.Listen("unix", p)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
		return err
	},
	"longer than 1 MiB": func(t *testing.T, p string) error {
		return os.WriteFile(p, []byte(strings.Repeat("# padding\n", flagfile.MaxSize/10+1)), 0o600)
	},
}

// TestHostileFlag: whatever sits at the flag path, the map does not block:
// it answers, the state map follows, Close returns; anything but a regular
// file within the size bound means maintenance on, with an ERROR naming the
// path and what it is. The flag appears while the map runs (the watcher
// meets it) and is there at start (Open meets it).
func TestHostileFlag(t *testing.T) {
	for typ, mk := range hostile {
		for _, atStart := range []bool{false, true} {
			s := newSite(t)
			flag := s.path("maintenance")
			if atStart {
				if err := mk(t, flag); err != nil {
					t.Fatal(err)
				}
			}
			g := s.open()
			if !atStart {
				if ask(g, stranger+" /de/map/  ") != rewritemap.Allow {
					t.Fatalf("%s: no flag yet, but not allowed", typ)
				}
				// Made aside and renamed into place: the watcher must
				// not meet half of the huge file.
				if err := mk(t, flag+".new"); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(flag+".new", flag); err != nil {
					t.Fatal(err)
				}
				eventually(t, typ+": state map on", func() bool { return s.state() == flagfile.On })
			}
			var got string
			within(t, 5e9, typ+": Answer", func() { got = ask(g, stranger+" /de/map/  ") })
			if got != rewritemap.Redirect || s.state() != flagfile.On {
				t.Errorf("%s (at start %v): answer %q, state map %q; want redirect, on", typ, atStart, got, s.state())
			}
			log := s.closeGate(g)
			if !strings.Contains(log, `"level":"error"`) || !strings.Contains(log, flag) || !strings.Contains(log, typ) {
				t.Errorf("%s (at start %v): no ERROR naming %s and %q in the log:\n%s", typ, atStart, flag, typ, log)
			}
		}
	}
}

// TestHostileNamedFiles: a FIFO, device, directory or socket as the
// whitelist file or the token key does not block Open, the watcher or
// Close: the map fails closed (answers redirect) and says which file is
// what. (The config file and the Django secret file are read by
// config.Load and session.LoadSecrets, which still call os.ReadFile.)
func TestHostileNamedFiles(t *testing.T) {
	for _, name := range []string{"whitelist.txt", "token.key", "maintgate.toml"} {
		for typ, mk := range hostile {
			if typ == "longer than 1 MiB" {
				continue // bounded by each file's own reader (its own tests)
			}
			s := newSite(t)
			os.Remove(s.path(name))
			if err := mk(t, s.path(name)); err != nil {
				t.Fatal(err)
			}
			g := s.open()
			var got string
			within(t, 5e9, name+" "+typ+": Answer", func() { got = ask(g, stranger+" /de/map/  ") })
			if got != rewritemap.Redirect {
				t.Errorf("%s is a %s: answer %q, want redirect", name, typ, got)
			}
			log := s.closeGate(g)
			if name == "maintgate.toml" {
				continue // no config, no log.file: the ERROR goes to stderr (Apache's error log)
			}
			if !strings.Contains(log, s.path(name)) || !strings.Contains(log, typ) {
				t.Errorf("%s is a %s: the log does not say so:\n%s", name, typ, log)
			}
		}
	}
}

// TestLogFileFIFO: a FIFO without a reader as log.file does not block the
// map's start: it logs to stderr and answers.
func TestLogFileFIFO(t *testing.T) {
	s := newSite(t)
	if err := syscall.Mkfifo(s.path("maintgate.log"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.write("maintenance", "")
	g := s.open()
	if got := ask(g, stranger+" /de/map/  "); got != rewritemap.Redirect {
		t.Errorf("answer %q, want redirect", got)
	}
	within(t, 5e9, "Close", func() { g.Close() })
}
