package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/rewritemap"

	"github.com/maintgate/maintgate/internal/regfile/regfiletest"
)

// site is a configuration directory for one Gate under test: the config,
// the flag, the state map, the log, a whitelist file and a token key, all
// as files the test can rewrite, delete or replace while the gate runs.
type site struct {
	t   *testing.T
	dir string
	now time.Time
	// clock, when set, is the gate's Options.Now.
	clock func() time.Time
}

const (
	testKey   = "0123456789abcdef0123456789abcdef"
	stranger  = "203.0.113.7"
	listedIP  = "198.51.100.9" // in the whitelist file
	tickEvery = 5 * time.Millisecond
)

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{t: t, dir: t.TempDir(), now: time.Now()}
	s.write("token.key", testKey+"\n")
	s.write("whitelist.txt", "# test\n"+listedIP+"\n")
	s.writeConfig("")
	return s
}

func (s *site) path(name string) string { return filepath.Join(s.dir, name) }

func (s *site) write(name, text string) {
	s.t.Helper()
	// Through a rename, as editors and config management do: the watcher
	// never reads half a file.
	if err := flagfile.WriteAtomic(s.path(name), []byte(text), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// writeConfig writes the config with the files above and extra top-level
// keys (which may override flag_file and state_map).
func (s *site) writeConfig(extra string) {
	s.t.Helper()
	s.write("maintgate.toml", configText(extra))
}

func configText(extra string) string {
	text := extra + "\n"
	if !strings.Contains(extra, "flag_file") {
		text += "flag_file = \"maintenance\"\n"
	}
	if !strings.Contains(extra, "state_map") {
		text += "state_map = \"state.map\"\n"
	}
	return text + "whitelist_file = \"whitelist.txt\"\n[log]\nfile = \"maintgate.log\"\nlevel = \"debug\"\n[token]\nkey_file = \"token.key\"\n"
}

// open starts a Gate as `maintgate map` does (watcher on), with a fast
// tick; it fails the test if opening takes more than 5 s.
func (s *site) open() *Gate {
	s.t.Helper()
	var g *Gate
	var err error
	within(s.t, 5*time.Second, "Open", func() {
		g, err = Open(Options{ConfigPath: s.path("maintgate.toml"), Watch: true, Interval: tickEvery, Now: s.clock})
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { g.Close() })
	return g
}

// closeGate closes g within 5 s (SIGTERM in the map) and returns its log.
func (s *site) closeGate(g *Gate) string {
	s.t.Helper()
	within(s.t, 5*time.Second, "Close", func() { g.Close() })
	b, _ := os.ReadFile(s.path("maintgate.log"))
	return string(b)
}

func (s *site) state() flagfile.State { return flagfile.ReadState(s.path("state.map")) }

// within is regfiletest.Within: a hang fails the test.
var within = regfiletest.Within

// eventually polls cond for up to 5 s (a thousand ticks of the watcher).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("after 5s: %s", what)
}

func ask(g *Gate, line string) string {
	a := g.Answer(rewritemap.Line{Text: []byte(line)})
	g.After()
	return a
}

// bypass is a request from a stranger carrying a token signed with key.
func (s *site) bypass(key string) string {
	s.t.Helper()
	v, err := token.Issue([]byte(key), "test", s.now, s.now.Add(time.Hour))
	if err != nil {
		s.t.Fatal(err)
	}
	return stranger + " /de/map/  maintgate_bypass=" + v
}
