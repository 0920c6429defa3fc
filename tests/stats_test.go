package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// The map's counters (stats_file) as the panel and Prometheus read them:
// the built binary fed key lines, its file read back.

// readStats reads stats_file into series -> value ("name{labels}"); nil
// when the file is missing.
func readStats(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseUint(line[i+1:], 10, 64)
		if i < 0 || err != nil {
			t.Fatalf("%s: unreadable line %q", path, line)
		}
		got[line[:i]] = v
	}
	return got
}

// answers is every series of stats_file but the two times, with the
// counts given and 0 for the rest.
func answers(counts map[string]uint64) map[string]uint64 {
	m := map[string]uint64{}
	for _, r := range []string{"inactive", "allowed_path", "admin_path", "whitelisted", "window_allow", "token", "session"} {
		m[`maintgate_answers_total{answer="allow",reason="`+r+`"}`] = 0
	}
	m[`maintgate_answers_total{answer="redirect",reason="redirected"}`] = 0
	for _, n := range []string{"unreadable_lines", "session_lookups", "session_cache_hits", "session_db_errors"} {
		m["maintgate_"+n+"_total"] = 0
	}
	for k, v := range counts {
		if _, ok := m[k]; !ok {
			panic("no series " + k)
		}
		m[k] = v
	}
	return m
}

// diffStats says how got differs from want, ignoring the two times; ""
// when it does not.
func diffStats(got, want map[string]uint64) string {
	var d []string
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			d = append(d, k+" = "+strconv.FormatUint(g, 10)+", want "+strconv.FormatUint(v, 10))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "maintgate_map_start_time_seconds" && k != "maintgate_stats_time_seconds" {
			d = append(d, "unexpected "+k)
		}
	}
	return strings.Join(d, "\n")
}

// startStatsMap starts the map with its counters written every interval
// (MAINTGATE_TEST_STATS_INTERVAL: for tests only, not a config key).
func startStatsMap(t *testing.T, s *site, interval string) *mapProc {
	t.Helper()
	cmd := exec.Command(maintgate, "map", "-config", s.config)
	cmd.Env = append(os.Environ(), "MAINTGATE_TEST_STATS_INTERVAL="+interval)
	return startProc(t, cmd)
}

// exit ends the map as Apache does (SIGTERM, or EOF when term is false)
// and waits for it.
func (m *mapProc) exit(t *testing.T, term bool) {
	t.Helper()
	if term {
		m.cmd.Process.Signal(syscall.SIGTERM)
	} else {
		m.in.Close()
	}
	done := make(chan error, 1)
	go func() { done <- m.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("map exit: %v (stderr: %s)", err, m.errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("map did not exit within 10s")
	}
}

// TestMapStatsFile: every kind of answer is counted exactly once under its
// reason, with the session lookups and cache hits of a real Django
// database; stats_file shows them while the map runs (within a few
// intervals) and at exit, replaced whole (mode 0644, no temporary left).
func TestMapStatsFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "django.db")
	const secret = "maintgate-e2e-secret-key-0123456789abcdefghijklmnop"
	fx := testsvc.MakeSessions(t, "sqlite:"+db, secret, "maintgate-e2e-old-key-0123456789")
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "token.key"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
	prom := filepath.Join(dir, "stats", "maintgate.prom")
	os.Mkdir(filepath.Dir(prom), 0o755)
	s := newSite(t, "")
	// A lookup waits up to 5 s, not 100 ms: a loaded machine must not turn
	// the superuser into a redirect and the counts into others.
	os.WriteFile(s.config, []byte("stats_file = \""+prom+"\"\n"+readFile(t, s.config)+
		"[token]\nkey_file = \""+filepath.Join(dir, "token.key")+"\"\n"+
		"[session]\nstore = \"django\"\ndatabase = \"sqlite:"+db+"\"\nsecret_key_file = \""+filepath.Join(dir, "secret.key")+"\"\nlookup_timeout = \"5s\"\n"), 0o644)
	tok := strings.TrimSpace(mg(t, s.config, 0, "token", "issue", "--ttl", "1h"))

	m := startStatsMap(t, s, "100ms")
	const stranger = "203.0.113.7 /de/map/  "
	feed := func(line, want string, n int) {
		t.Helper()
		for range n {
			if got := m.ask(line); got != want {
				t.Fatalf("%q: %s, want %s", line, got, want)
			}
		}
	}
	feed(stranger, "allow", 2) // off
	mg(t, s.config, 0, "on", "--allow", "198.51.100.9")
	feed("203.0.113.7 /static/site.css  ", "allow", 2)
	feed("203.0.113.7 /admin/  ", "allow", 1)
	feed("192.168.1.100 /de/map/  ", "allow", 3)
	feed("198.51.100.9 /de/map/  ", "allow", 1)
	feed(stranger+"maintgate_bypass="+tok, "allow", 2)
	feed(stranger+"sessionid="+fx.Cases["superuser"].Cookie, "allow", 2) // one lookup, one cache hit
	feed(stranger+"sessionid="+fx.Cases["staff"].Cookie, "redirect", 1)  // a lookup
	feed(stranger, "redirect", 2)
	feed("garbage", "redirect", 2) // on_error = "redirect"
	feed("@retry-after", "none", 1)
	want := answers(map[string]uint64{
		`maintgate_answers_total{answer="allow",reason="inactive"}`:      2,
		`maintgate_answers_total{answer="allow",reason="allowed_path"}`:  2,
		`maintgate_answers_total{answer="allow",reason="admin_path"}`:    1,
		`maintgate_answers_total{answer="allow",reason="whitelisted"}`:   3,
		`maintgate_answers_total{answer="allow",reason="window_allow"}`:  1,
		`maintgate_answers_total{answer="allow",reason="token"}`:         2,
		`maintgate_answers_total{answer="allow",reason="session"}`:       2,
		`maintgate_answers_total{answer="redirect",reason="redirected"}`: 3,
		"maintgate_unreadable_lines_total":                               2,
		"maintgate_session_lookups_total":                                2,
		"maintgate_session_cache_hits_total":                             1,
	})
	var got map[string]uint64
	deadline := time.Now().Add(10 * time.Second)
	for got = readStats(t, prom); diffStats(got, want) != "" && time.Now().Before(deadline); got = readStats(t, prom) {
		time.Sleep(20 * time.Millisecond)
	}
	if d := diffStats(got, want); d != "" {
		t.Fatalf("stats_file while the map runs, after 10 s:\n%s", d)
	}
	start := got["maintgate_map_start_time_seconds"]
	if now := uint64(time.Now().Unix()); start > now || start < now-60 || got["maintgate_stats_time_seconds"] < start {
		t.Errorf("start %d, written %d, now %d", start, got["maintgate_stats_time_seconds"], now)
	}
	feed(stranger, "redirect", 1)
	m.exit(t, false)
	want[`maintgate_answers_total{answer="redirect",reason="redirected"}`]++
	if d := diffStats(readStats(t, prom), want); d != "" {
		t.Errorf("stats_file after the map exited:\n%s", d)
	}
	if fi, err := os.Stat(prom); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("stats_file mode %v (%v), want 0644", fi.Mode(), err)
	}
	if es, _ := os.ReadDir(filepath.Dir(prom)); len(es) != 1 {
		t.Errorf("%d files beside stats_file, want none (a temporary file left?)", len(es)-1)
	}
}

// TestMapStatsWrittenAtExit: what the map answered since its last write
// reaches stats_file when Apache stops it with SIGTERM (here the interval
// is an hour: only the writes at start and at exit happen).
func TestMapStatsWrittenAtExit(t *testing.T) {
	s := newSite(t, "")
	prom := filepath.Join(s.dir, "stats.prom")
	os.WriteFile(s.config, []byte("stats_file = \"stats.prom\"\n"+readFile(t, s.config)), 0o644)
	s.on(t)
	m := startStatsMap(t, s, "1h")
	for range 5 {
		m.ask("203.0.113.7 /de/map/  ")
	}
	m.ask("10.1.2.3 /de/map/  ")
	m.exit(t, true)
	want := answers(map[string]uint64{
		`maintgate_answers_total{answer="redirect",reason="redirected"}`: 5,
		`maintgate_answers_total{answer="allow",reason="whitelisted"}`:   1,
	})
	if d := diffStats(readStats(t, prom), want); d != "" {
		t.Errorf("stats_file after SIGTERM:\n%s", d)
	}
}

// TestMapStatsFileDirectoryMissing: a stats_file the map cannot write
// changes no answer and costs one warning for the whole outage, not one
// per interval.
func TestMapStatsFileDirectoryMissing(t *testing.T) {
	s := newSite(t, "")
	os.WriteFile(s.config, []byte("stats_file = \""+filepath.Join(s.dir, "missing", "stats.prom")+"\"\n"+readFile(t, s.config)), 0o644)
	s.on(t)
	m := startStatsMap(t, s, "10ms")
	for i := range 30 {
		if got := m.ask("203.0.113.7 /de/map/  "); got != "redirect" {
			t.Fatalf("line %d: %s", i, got)
		}
		if got := m.ask("192.168.1.100 /de/map/  "); got != "allow" {
			t.Fatalf("line %d: whitelisted %s", i, got)
		}
		time.Sleep(10 * time.Millisecond) // 30 intervals in all
	}
	m.exit(t, false)
	if n := strings.Count(s.logText(t), "cannot write the counters to stats_file"); n != 1 {
		t.Errorf("%d warnings about stats_file, want 1:\n%s", n, s.logText(t))
	}
}
