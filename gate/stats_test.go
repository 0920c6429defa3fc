package gate

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz/session"
)

// TestStatsFormat: the file is exactly node_exporter's textfile format as
// DESIGN.md names the series (testdata/stats.prom): the panel and
// Prometheus parse it, so a byte that changes is a broken contract.
func TestStatsFormat(t *testing.T) {
	tt := totals{answers: [nReasons]uint64{1, 2, 3, 4, 5, 6, 7, math.MaxUint64}, unreadable: 9,
		session: session.Stats{Lookups: 10, CacheHits: 11, DBErrors: 12},
		start:   time.Unix(1764756000, 0), at: time.Unix(1764756010, 999e6)}
	want, err := os.ReadFile("testdata/stats.prom")
	if err != nil {
		t.Fatal(err)
	}
	if got := appendTotals(nil, &tt); string(got) != string(want) {
		t.Errorf("got:\n%s\nwant (testdata/stats.prom):\n%s", got, want)
	}
	for r, l := range reasonLabel {
		if l == "" {
			t.Errorf("reason %d has no label", r)
		}
	}
}

// TestStatsCountAnswers: each key line is counted once, under the answer
// and reason that decided it (or as unreadable); @retry-after is no key
// line. The session reason is counted through the binary with a real
// Django database (tests/stats_test.go).
func TestStatsCountAnswers(t *testing.T) {
	cases := []struct {
		name, flag, line string // flag "-": none
		want             string // "allow/REASON", "redirect/redirected", "unreadable" or "" (nothing)
	}{
		{"off", "-", stranger + " /de/map/  ", "allow/inactive"},
		{"static", "", stranger + " /static/app.css  ", "allow/allowed_path"},
		{"admin", "", stranger + " /de/admin/login/  ", "allow/admin_path"},
		{"whitelist file", "", listedIP + " /de/map/  ", "allow/whitelisted"},
		{"on --allow", "allow = [\"192.0.2.1\"]\n", "192.0.2.1 /de/map/  ", "allow/window_allow"},
		{"token", "", "", "allow/token"},
		{"redirect", "", stranger + " /de/map/  ", "redirect/redirected"},
		{"unreadable", "", "garbage", "unreadable"},
		{"unreadable while off", "-", "garbage", "allow/inactive"}, // not parsed: Apache does not ask while off
		{"retry-after", "", "@retry-after", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSite(t)
			s.writeConfig(`stats_file = ""`)
			if c.flag != "-" {
				s.write("maintenance", c.flag)
			}
			line := c.line
			if c.name == "token" {
				line = s.bypass(testKey)
			}
			g := s.open()
			ask(g, line)
			tt, _ := g.totals()
			got := map[string]uint64{"unreadable": tt.unreadable}
			for r, n := range tt.answers {
				answer := "allow/"
				if r == nReasons-1 {
					answer = "redirect/"
				}
				got[answer+reasonLabel[r]] = n
			}
			for k, n := range got {
				if want := uint64(0); k == c.want && n != 1 || k != c.want && n != want {
					t.Errorf("%q: %s = %d", line, k, n)
				}
			}
		})
	}
}

// TestStatsFileWrittenAndWarnedOnce: a stats_file whose directory is
// missing costs one warning for the whole outage and never an answer;
// once the directory exists the file appears (by rename, mode 0644), and
// Close writes the last counts.
func TestStatsFileWrittenAndWarnedOnce(t *testing.T) {
	s := newSite(t)
	s.writeConfig(`stats_file = "stats/maintgate.prom"`)
	s.write("maintenance", "")
	var g *Gate
	var err error
	within(t, 5*time.Second, "Open", func() {
		g, err = Open(Options{ConfigPath: s.path("maintgate.toml"), Watch: true, Interval: tickEvery, StatsInterval: 5 * time.Millisecond})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	for range 3 {
		if got := ask(g, stranger+" /de/map/  "); got != "redirect" {
			t.Fatalf("answer %q while stats_file cannot be written", got)
		}
		time.Sleep(20 * time.Millisecond) // several failed writes
	}
	if err := os.Mkdir(s.path("stats"), 0o755); err != nil {
		t.Fatal(err)
	}
	prom := s.path("stats/maintgate.prom")
	want := `maintgate_answers_total{answer="redirect",reason="redirected"} 3` + "\n"
	eventually(t, "stats_file written with 3 redirects", func() bool {
		b, _ := os.ReadFile(prom)
		return strings.Contains(string(b), want)
	})
	if fi, err := os.Stat(prom); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("stats_file: %v, %v; want mode 0644", fi.Mode(), err)
	}
	ask(g, listedIP+" /de/map/  ")
	log := s.closeGate(g)
	b, _ := os.ReadFile(prom)
	if !strings.Contains(string(b), `reason="whitelisted"} 1`+"\n") || !strings.Contains(string(b), want) {
		t.Errorf("after Close, stats_file lacks the last answer:\n%s", b)
	}
	if n := strings.Count(log, "cannot write the counters"); n != 1 {
		t.Errorf("%d warnings about stats_file, want 1:\n%s", n, log)
	}
	if n := strings.Count(log, "counters written to stats_file again"); n != 1 {
		t.Errorf("%d notes that stats_file works again, want 1:\n%s", n, log)
	}
	if entries, _ := os.ReadDir(s.path("stats")); len(entries) != 1 {
		t.Errorf("stats directory holds %d files, want 1 (no temporary file left)", len(entries))
	}
}

// TestStatsSessionCountsSurviveReload: a reload that replaces the session
// checker (a [session] key changed) adds the old checker's counts to the
// new one's, so the session counters never go down within one map.
func TestStatsSessionCountsSurviveReload(t *testing.T) {
	s := newSite(t)
	s.write("app.sqlite3", "") // no tables: each lookup is a database error
	cfg := "[session]\nstore = \"django\"\ndatabase = \"sqlite:" + s.path("app.sqlite3") + "\"\ncache_size = %s\n"
	s.write("maintgate.toml", configText(`stats_file = ""`)+strings.Replace(cfg, "%s", "1000", 1))
	s.write("maintenance", "")
	g := s.open()
	first := g.Snapshot().Sessions
	lookup := func(key string) session.Stats {
		ask(g, stranger+" /de/map/  sessionid="+key)
		var tt totals
		eventually(t, "the lookup counted", func() bool { tt, _ = g.totals(); return tt.session.DBErrors > 0 })
		return tt.session
	}
	if got := lookup("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); got != (session.Stats{Lookups: 1, DBErrors: 1}) {
		t.Fatalf("first lookup: %+v", got)
	}
	s.write("maintgate.toml", configText(`stats_file = ""`)+strings.Replace(cfg, "%s", "2000", 1))
	eventually(t, "the session checker replaced", func() bool { return g.Snapshot().Sessions != first })
	if tt, _ := g.totals(); tt.session != (session.Stats{Lookups: 1, DBErrors: 1}) {
		t.Errorf("after the reload: %+v, want the first checker's counts", tt.session)
	}
	ask(g, stranger+" /de/map/  sessionid=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
	eventually(t, "both checkers counted", func() bool {
		tt, _ := g.totals()
		return tt.session == session.Stats{Lookups: 2, DBErrors: 2}
	})
}
