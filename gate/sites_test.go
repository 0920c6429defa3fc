package gate

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/rewritemap"
)

// sitesConfig is the config of a server with two sites: shop (its own
// allow_paths and an added whitelist) and blog (only a switch of its own).
const sitesConfig = `
[sites.shop]
allow_paths = ["/shop-static/"]
whitelist = ["192.0.2.0/24"]

[sites.blog]
`

// newSitesSite is newSite with sitesConfig.
func newSitesSite(t *testing.T) *site {
	s := newSite(t)
	s.write("maintgate.toml", configText("")+sitesConfig)
	return s
}

// flagNames maps the table's flag names to their files.
var flagNames = map[string]string{"server": "maintenance", "shop": "maintenance.shop", "blog": "maintenance.blog"}

// setFlags makes exactly the named flags present (a comma list, "-" for
// none), by hand, as touch and rm would.
func (s *site) setFlags(list string) {
	s.t.Helper()
	on := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		on[n] = true
	}
	for n, f := range flagNames {
		if on[n] {
			s.write(f, "")
		} else {
			os.Remove(s.path(f))
		}
	}
}

// TestSiteLines runs testdata/sitelines.tsv: key lines with and without a
// fifth field, against a server with sites, under each set of flags. The
// watcher is as slow as an hour here: every flag change is seen by the
// answer path's own look, as the first request after `on` is.
func TestSiteLines(t *testing.T) {
	s := newSitesSite(t)
	g, err := Open(Options{ConfigPath: s.path("maintgate.toml"), Watch: true, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	f, err := os.Open("testdata/sitelines.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for lineNo := 1; sc.Scan(); lineNo++ {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		col := strings.Split(sc.Text(), "\t")
		if len(col) != 3 {
			t.Fatalf("sitelines.tsv:%d: %d columns, want 3", lineNo, len(col))
		}
		line := strings.NewReplacer("${SP}", " ", "$SP", " ").Replace(col[2])
		s.setFlags(col[0])
		// Flags that went away are seen by the watcher only (the answer
		// path looks when a site looks up): read them now.
		g.refreshFlags(false)
		if got := ask(g, line); got != col[1] {
			t.Errorf("sitelines.tsv:%d: flags %s, %q: %s, want %s", lineNo, col[0], line, got, col[1])
		}
		n++
	}
	if n < 30 {
		t.Fatalf("only %d cases read", n)
	}
}

// TestFirstRequestAfterSiteOn: the first line of a site after its flag
// appears is gated, without waiting for the watcher (an hour here), and
// the state map says so at once.
func TestFirstRequestAfterSiteOn(t *testing.T) {
	s := newSitesSite(t)
	g, err := Open(Options{ConfigPath: s.path("maintgate.toml"), Watch: true, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	line := stranger + " /de/map/   shop"
	if got := ask(g, line); got != rewritemap.Allow {
		t.Fatalf("no flag: %s", got)
	}
	s.write("maintenance.shop", "")
	if got := ask(g, line); got != rewritemap.Redirect {
		t.Errorf("first line after the shop's flag appeared: %s, want redirect", got)
	}
	// The map's watcher may have applied the flag first (inotify): then
	// it, not this line, writes the state map, a moment later.
	eventually(t, "state map: shop on, the rest off", func() bool {
		st := flagfile.ReadStates(s.path("state.map"))
		return st["shop"] == flagfile.On && st["blog"] == flagfile.Off && st["default"] == flagfile.Off && st["state"] == flagfile.Off
	})
}

// TestSiteStateMap: one line per site and the line "state" for the
// server-wide switch; a site is on while its own or the server-wide flag
// is; written only when what it says changes.
func TestSiteStateMap(t *testing.T) {
	s := newSitesSite(t)
	g := s.open()
	want := func(what, text string) {
		t.Helper()
		eventually(t, what, func() bool {
			b, _ := os.ReadFile(s.path("state.map"))
			return strings.HasSuffix(string(b), text)
		})
	}
	want("all off", "state off\ndefault off\nblog off\nshop off\n")
	s.write("maintenance.shop", "")
	want("shop on", "state off\ndefault off\nblog off\nshop on\n")
	s.write("maintenance", "")
	want("server-wide on", "state on\ndefault on\nblog on\nshop on\n")
	os.Remove(s.path("maintenance.shop"))
	// Off --site shop while the server-wide flag is on: shop stays down.
	time.Sleep(20 * tickEvery)
	want("shop's flag gone, server-wide on", "state on\ndefault on\nblog on\nshop on\n")
	if got := ask(g, stranger+" /de/map/   shop"); got != rewritemap.Redirect {
		t.Errorf("shop while the server-wide flag is on: %s", got)
	}
	before, _ := os.Stat(s.path("state.map"))
	time.Sleep(20 * tickEvery)
	if after, _ := os.Stat(s.path("state.map")); !after.ModTime().Equal(before.ModTime()) {
		t.Error("state map rewritten though nothing changed")
	}
	os.Remove(s.path("maintenance"))
	want("all off again", "state off\ndefault off\nblog off\nshop off\n")
	// Someone else (an old `maintgate off`) writes the one-line map: the
	// map puts the site lines back.
	flagfile.WriteState(s.path("state.map"), flagfile.Off)
	want("site lines back", "state off\ndefault off\nblog off\nshop off\n")
}

// TestWatcherSeesSiteFlag: touch and rm of a site's flag by hand are seen
// by the watcher (no request needed), in the state map and in Sites.
func TestWatcherSeesSiteFlag(t *testing.T) {
	s := newSitesSite(t)
	g := s.open()
	active := func(name string) bool {
		for _, st := range g.Sites() {
			if st.Name == name {
				return st.Active
			}
		}
		t.Fatalf("no site %s in %+v", name, g.Sites())
		return false
	}
	s.write("maintenance.blog", "")
	eventually(t, "blog on", func() bool {
		return active("blog") && !active("shop") && flagfile.ReadStates(s.path("state.map"))["blog"] == flagfile.On
	})
	os.Remove(s.path("maintenance.blog"))
	eventually(t, "blog off", func() bool {
		return !active("blog") && flagfile.ReadStates(s.path("state.map"))["blog"] == flagfile.Off
	})
	sites := g.Sites()
	if len(sites) != 3 || sites[0].Name != "default" || sites[1].Name != "blog" || sites[2].Name != "shop" || sites[2].FlagFile != s.path("maintenance.shop") {
		t.Errorf("Sites() = %+v", sites)
	}
}

// TestUnknownSiteWarnsOnceAMinute: a line naming an unknown site is
// decided as default and logged at WARNING once a minute per name.
func TestUnknownSiteWarnsOnceAMinute(t *testing.T) {
	s := newSitesSite(t)
	now := time.Now()
	s.clock = func() time.Time { return now }
	g := s.open()
	for i := 0; i < 5; i++ {
		ask(g, stranger+" /de/map/   shopp")
		ask(g, stranger+" /de/map/   blgo")
	}
	now = now.Add(61 * time.Second)
	ask(g, stranger+" /de/map/   shopp")
	log := s.closeGate(g)
	if n := strings.Count(log, `"site":"shopp"`); n != 2 {
		t.Errorf("%d warnings about shopp over 61 s, want 2:\n%s", n, log)
	}
	if n := strings.Count(log, `"site":"blgo"`); n != 1 || !strings.Contains(log, `"level":"warn"`) {
		t.Errorf("%d warnings about blgo, want 1:\n%s", n, log)
	}
}

// TestUnknownSitesBounded: however many names arrive, the gate remembers
// a bounded number, and past it one warning a minute covers the rest.
func TestUnknownSitesBounded(t *testing.T) {
	var u unknownSites
	now := time.Now()
	warned := 0
	for i := 0; i < 10*unknownKeep; i++ {
		if _, due := u.due([]byte("site"+strings.Repeat("x", i%100)+string(rune('a'+i%26))+time.Duration(i).String()), now); due {
			warned++
		}
	}
	if len(u.last) > unknownKeep+1 || warned != unknownKeep+1 {
		t.Errorf("%d names kept, %d warnings; want at most %d, and %d", len(u.last), warned, unknownKeep+1, unknownKeep+1)
	}
	if _, due := u.due([]byte("late"), now.Add(time.Minute)); !due || len(u.last) > unknownKeep+1 {
		t.Errorf("a minute on: due=%v, %d names kept", due, len(u.last))
	}
}

// TestCutLineWithSites: a line cut at MaxLine lost its site field: while
// a site is down it is redirected even when default is up and on_error
// is allow; while every site is up it is allowed.
func TestCutLineWithSites(t *testing.T) {
	s := newSitesSite(t)
	s.write("maintgate.toml", configText(`on_error = "allow"`)+sitesConfig)
	g := s.open()
	long := rewritemap.Line{Text: []byte(stranger + " /de/map/  " + strings.Repeat("a", rewritemap.MaxLine)), TooLong: true}
	if got := g.Answer(long); got != rewritemap.Allow {
		t.Errorf("cut line, every site up: %s", got)
	}
	g.After()
	s.write("maintenance.shop", "")
	if got := g.Answer(long); got != rewritemap.Redirect {
		t.Errorf("cut line, shop down: %s, want redirect", got)
	}
	g.After()
}

// TestRetryAfterSite: "@retry-after SITE" is the site's own end time, or
// the later of its own and the server-wide one; the bare key is the
// server-wide one.
func TestRetryAfterSite(t *testing.T) {
	s := newSitesSite(t)
	now := time.Now().Truncate(time.Second)
	s.clock = func() time.Time { return now }
	flagfile.Write(s.path("maintenance.shop"), flagfile.Flag{Until: now.Add(90 * time.Second)})
	g := s.open()
	for key, want := range map[string]string{"@retry-after": "none", "@retry-after shop": "90", "@retry-after blog": "none", "@retry-after nope": "none", "@retry-after ": "none"} {
		if got := ask(g, key); got != want {
			t.Errorf("%q: %s, want %s", key, got, want)
		}
	}
	flagfile.Write(s.path("maintenance"), flagfile.Flag{Until: now.Add(time.Hour)})
	g.refreshFlags(false)
	for key, want := range map[string]string{"@retry-after": "3600", "@retry-after shop": "3600", "@retry-after blog": "3600"} {
		if got := ask(g, key); got != want {
			t.Errorf("server-wide until in an hour, %q: %s, want %s", key, got, want)
		}
	}
}

// TestSiteAllowPath: an --allow-path of the site's window opens that
// prefix on that site only; one of the server-wide window on every site.
func TestSiteAllowPath(t *testing.T) {
	s := newSitesSite(t)
	flagfile.Write(s.path("maintenance.shop"), flagfile.Flag{AllowPaths: []string{"/hooks/pay/", "no-slash"}})
	flagfile.Write(s.path("maintenance.blog"), flagfile.Flag{})
	g := s.open()
	for line, want := range map[string]string{
		stranger + " /hooks/pay/x   shop":    rewritemap.Allow,
		stranger + " /hooks/pay   shop":      rewritemap.Allow,
		stranger + " /hooks/payx   shop":     rewritemap.Redirect,
		stranger + " /hooks/pay/../x   shop": rewritemap.Redirect,
		stranger + " /hooks/pay/x   blog":    rewritemap.Redirect,
		stranger + " no-slash   shop":        rewritemap.Redirect,
	} {
		if got := ask(g, line); got != want {
			t.Errorf("%q: %s, want %s", line, got, want)
		}
	}
	flagfile.Write(s.path("maintenance"), flagfile.Flag{AllowPaths: []string{"/health"}})
	g.refreshFlags(false)
	for _, site := range []string{"", "shop", "blog"} {
		if got := ask(g, stranger+" /health   "+site); got != rewritemap.Allow {
			t.Errorf("server-wide --allow-path /health on site %q: %s", site, got)
		}
	}
	d := g.DecideSite("shop", authz.Request{Peer: netip.MustParseAddr(stranger), Path: "/hooks/pay/1"})
	if !d.Allow || d.Detail != authz.WindowPathDetail {
		t.Errorf("DecideSite: %+v", d)
	}
}

// TestReloadAddsSite: a [sites.NAME] table added while the map runs is in
// force at the next tick, its flag followed and its state map line
// written.
func TestReloadAddsSite(t *testing.T) {
	s := newSite(t)
	g := s.open()
	s.write("maintenance.api", "")
	s.write("maintgate.toml", configText("")+"[sites.api]\n")
	eventually(t, "api on after the reload", func() bool {
		return flagfile.ReadStates(s.path("state.map"))["api"] == flagfile.On
	})
	if got := ask(g, stranger+" /de/map/   api"); got != rewritemap.Redirect {
		t.Errorf("api: %s", got)
	}
	if got := ask(g, stranger+" /de/map/  "); got != rewritemap.Allow {
		t.Errorf("default: %s", got)
	}
}

// BenchmarkAnswerSites is BenchmarkAnswer for lines naming a site, with
// one site configured and with ten: the site lookup is a map read, so ten
// must cost what one does. The named site's own flag is on (or, for
// "up", no flag: the line costs the stats of the site's and the
// server-wide flag, as a line while maintenance is off does).
func BenchmarkAnswerSites(b *testing.B) {
	const csrf = "csrftoken=Zq3kE8vJb1mN7xYc2LpRt5WuA9sDf0GhKoIeVnBmQwErTyUiOpAsDfGhJkLzXcVb"
	cases := []struct {
		name string
		on   bool
		line string
	}{
		{"whitelisted", true, "192.168.1.100 /de/map/  " + csrf + " s0"},
		{"static", true, "203.0.113.7 /static/css/site.css  " + csrf + " s0"},
		{"redirect", true, "203.0.113.7 /de/map/  " + csrf + " s0"},
		{"up", false, "203.0.113.7 /de/map/  " + csrf + " s0"},
	}
	for _, c := range cases {
		for _, n := range []int{1, 10} {
			b.Run(c.name+"/sites="+strconv.Itoa(n), func(b *testing.B) {
				var extra strings.Builder
				for i := 0; i < n; i++ {
					fmt.Fprintf(&extra, "[sites.s%d]\n", i)
				}
				g := openTestGate(b, extra.String(), false)
				if c.on {
					if err := os.WriteFile(g.Snapshot().Sites["s0"].flag.path, nil, 0o644); err != nil {
						b.Fatal(err)
					}
					g.refreshFlags(false)
				}
				l := rewritemap.Line{Text: []byte(c.line)}
				b.ReportAllocs()
				for b.Loop() {
					g.Answer(l)
					g.After()
				}
			})
		}
	}
}

// TestSiteNamedWithoutSites: on a server without [sites.NAME] tables, a
// vhost that names a site is decided as default and warned about, while
// maintenance is off (Apache then asks for its every request) and on.
func TestSiteNamedWithoutSites(t *testing.T) {
	for _, on := range []bool{false, true} {
		s := newSite(t)
		if on {
			s.write("maintenance", "")
		}
		g := s.open()
		want := rewritemap.Allow
		if on {
			want = rewritemap.Redirect
		}
		if got := ask(g, stranger+" /de/map/   shop"); got != want {
			t.Errorf("flag %v: %s, want %s", on, got, want)
		}
		ask(g, stranger+" /de/map/   default")
		log := s.closeGate(g)
		if strings.Count(log, `"site":"shop","config"`) != 1 || strings.Contains(log, `"site":"default","config"`) {
			t.Errorf("flag %v: want one warning about shop, none about default:\n%s", on, log)
		}
	}
}
