package gate

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/rewritemap"
)

// TestKeyRewrittenInPlace: a key file rewritten in place with a key of the
// same length and its mtime put back (same inode, size and mtime) is still
// a new key: tokens of the old key stop working at the next tick.
func TestKeyRewrittenInPlace(t *testing.T) {
	s := newSite(t)
	s.write("maintenance", "")
	g := s.open()
	oldToken := s.bypass(testKey)
	if got := ask(g, oldToken); got != rewritemap.Allow {
		t.Fatalf("token of the key in force: %q", got)
	}
	p := s.path("token.key")
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	const newKey = "fedcba9876543210fedcba9876543210"
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(newKey+"\n"), 0)
	f.Close()
	if err := os.Chtimes(p, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(p); after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("the rewrite changed size or mtime; the test proves nothing")
	}
	eventually(t, "a token of the replaced key still lets a stranger in", func() bool { return ask(g, oldToken) == rewritemap.Redirect })
	if got := ask(g, s.bypass(newKey)); got != rewritemap.Allow {
		t.Errorf("token of the new key: %q", got)
	}
}

// TestReloadRaceWithAnswer runs the answer path while the watcher reloads a
// config that moves the state map, and the flag changes all the time: under
// -race it proves that the state map's bookkeeping is shared safely between
// the two. The clock the watcher reads while it builds a new snapshot
// sleeps (without any synchronisation the race detector would count), so
// every reload is slow and the answer path meets a changed flag during it.
func TestReloadRaceWithAnswer(t *testing.T) {
	s := newSite(t)
	var slow atomic.Bool
	s.clock = func() time.Time {
		if slow.Load() {
			var buf [4096]byte
			if bytes.Contains(buf[:runtime.Stack(buf[:], false)], []byte("maybeReload")) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		return time.Now()
	}
	// A flag whose window opens in an hour looks off, so every answer
	// looks at it, and finds it changed.
	flagfile.Write(s.path("maintenance"), flagfile.Flag{Start: time.Now().Add(time.Hour)})
	g := s.open()
	slow.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			at := time.Unix(int64(i), 0)
			os.Chtimes(s.path("maintenance"), at, at)
			if i%10 == 0 {
				cfg := configText(fmt.Sprintf("state_map = \"state%d.map\"", i))
				flagfile.WriteAtomic(s.path("maintgate.toml"), []byte(cfg), 0o600)
			}
		}
	}()
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
		ask(g, stranger+" /de/map/  ")
	}
	close(stop)
	wg.Wait()
}

// TestReloadFollowsFiles: a change to the config, the whitelist file or
// the key file is in force at the next tick, without a restart.
func TestReloadFollowsFiles(t *testing.T) {
	s := newSite(t)
	s.write("maintenance", "")
	g := s.open()
	const other = "192.0.2.44"
	if ask(g, other+" /de/map/  ") != rewritemap.Redirect || ask(g, listedIP+" /de/map/  ") != rewritemap.Allow {
		t.Fatal("start: whitelist file not in force")
	}
	s.writeConfig(`whitelist = ["` + other + `"]`)
	eventually(t, "config whitelist entry in force", func() bool { return ask(g, other+" /de/map/  ") == rewritemap.Allow })

	s.write("whitelist.txt", "# emptied\n")
	eventually(t, "address removed from the whitelist file refused", func() bool { return ask(g, listedIP+" /de/map/  ") == rewritemap.Redirect })

	oldToken := s.bypass(testKey)
	s.write("token.key", "a-whole-new-key-of-some-length!!\n")
	eventually(t, "token of a replaced key refused", func() bool { return ask(g, oldToken) == rewritemap.Redirect })
	if log := s.closeGate(g); strings.Count(log, "configuration reloaded") < 3 {
		t.Errorf("want three reloads logged:\n%s", log)
	}
}

// TestBrokenReloadKeepsLastGood: a config, whitelist file or key file that
// breaks while the map runs is a WARNING, and the last good configuration
// stays in force; fixing the file reloads it.
func TestBrokenReloadKeepsLastGood(t *testing.T) {
	for _, c := range []struct{ name, broken string }{
		{"maintgate.toml", "flag_file = [unclosed"},
		{"whitelist.txt", ""}, // removed below
		{"token.key", "short\n"},
	} {
		s := newSite(t)
		s.write("maintenance", "")
		g := s.open()
		tok := s.bypass(testKey)
		good, _ := os.ReadFile(s.path(c.name))
		if c.name == "whitelist.txt" {
			os.Remove(s.path(c.name))
		} else {
			s.write(c.name, c.broken)
		}
		eventually(t, c.name+": failure noticed", func() bool {
			b, _ := os.ReadFile(s.path("maintgate.log"))
			return strings.Contains(string(b), "reload failed")
		})
		if ask(g, listedIP+" /de/map/  ") != rewritemap.Allow || ask(g, tok) != rewritemap.Allow || ask(g, stranger+" /de/map/  ") != rewritemap.Redirect {
			t.Errorf("%s broken: the last good configuration is not in force", c.name)
		}
		s.write(c.name, string(good))
		s.write("whitelist.txt", "# fixed\n")
		eventually(t, c.name+": fixed file reloaded", func() bool { return ask(g, listedIP+" /de/map/  ") == rewritemap.Redirect })
		log := s.closeGate(g)
		if !strings.Contains(log, `"level":"warn"`) || !strings.Contains(log, s.path(c.name)) {
			t.Errorf("%s broken: no WARNING naming it:\n%s", c.name, log)
		}
	}
}

// TestStateMapFollowsFlag: the state map says on and off as the flag comes
// and goes, and is written again when deleted (Apache would otherwise ask
// the map for every request, forever).
func TestStateMapFollowsFlag(t *testing.T) {
	s := newSite(t)
	g := s.open()
	if s.state() != flagfile.Off {
		t.Fatalf("start without flag: state map %q", s.state())
	}
	s.write("maintenance", "")
	eventually(t, "state map on", func() bool { return s.state() == flagfile.On })
	os.Remove(s.path("state.map"))
	eventually(t, "deleted state map written again", func() bool { return s.state() == flagfile.On })
	os.Remove(s.path("maintenance"))
	eventually(t, "state map off", func() bool { return s.state() == flagfile.Off })
	os.Remove(s.path("state.map"))
	eventually(t, "deleted state map written again (off)", func() bool { return s.state() == flagfile.Off })
	// A window that opens with the clock alone.
	flagfile.Write(s.path("maintenance"), flagfile.Flag{Start: time.Now().Add(300 * time.Millisecond)})
	time.Sleep(50 * time.Millisecond)
	if s.state() != flagfile.Off || ask(g, stranger+" /de/map/  ") != rewritemap.Allow {
		t.Errorf("window not open yet: state %q", s.state())
	}
	eventually(t, "state map on when the window opens", func() bool { return s.state() == flagfile.On })
}

// TestOpenBroken: a map whose config cannot be loaded at start answers
// redirect (but for the default always-allowed paths), touches no flag or
// state map, and takes the config as soon as it is fixed.
func TestOpenBroken(t *testing.T) {
	for _, name := range []string{"maintgate.toml", "whitelist.txt"} {
		s := newSite(t)
		good, _ := os.ReadFile(s.path(name))
		s.write(name, "garbage = [\n")
		if name == "whitelist.txt" {
			os.Remove(s.path(name))
		}
		g := s.open()
		if !g.Snapshot().Broken {
			t.Fatalf("%s broken: snapshot not marked broken", name)
		}
		if got := ask(g, stranger+" /de/map/  "); got != rewritemap.Redirect {
			t.Errorf("%s broken: answer %q, want redirect", name, got)
		}
		if got := ask(g, stranger+" /static/site.css  "); got != rewritemap.Allow {
			t.Errorf("%s broken: static path answered %q", name, got)
		}
		if _, err := os.Stat(s.path("state.map")); err == nil {
			t.Errorf("%s broken: state map written", name)
		}
		s.write(name, string(good))
		eventually(t, name+" fixed: loaded", func() bool { return !g.Snapshot().Broken })
		eventually(t, name+" fixed: maintenance off answers allow", func() bool { return ask(g, stranger+" /de/map/  ") == rewritemap.Allow })
		if s.state() != flagfile.Off {
			t.Errorf("%s fixed: state map %q", name, s.state())
		}
		// With the config itself broken, the first lines went to stderr.
		if log := s.closeGate(g); !strings.Contains(log, "configuration reloaded") || name != "maintgate.toml" && !strings.Contains(log, "configuration unusable at start") {
			t.Errorf("%s: log:\n%s", name, log)
		}
	}
}
