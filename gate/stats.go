package gate

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/session"
	"github.com/maintgate/maintgate/flagfile"
)

// StatsInterval is how often the map writes its counters to stats_file
// (DESIGN.md, "The control panel"); they are also written when it starts
// and when it stops.
const StatsInterval = 10 * time.Second

// nReasons is the number of authz.Reason values: the answers counted.
const nReasons = int(authz.Redirected) + 1

// reasonLabel is each reason as maintgate_answers_total's reason label.
// The names are a contract with the panel and with whatever scrapes the
// file: never rename one.
var reasonLabel = [nReasons]string{
	authz.Inactive:    "inactive",
	authz.AllowedPath: "allowed_path",
	authz.AdminPath:   "admin_path",
	authz.Whitelisted: "whitelisted",
	authz.WindowAllow: "window_allow",
	authz.Token:       "token",
	authz.Superuser:   "session",
	authz.Redirected:  "redirected",
}

// counters are what the answer path counts. Answer is serial, but the
// writer reads from its own goroutine, so each count is one atomic add on
// a fixed array: no lock, no map, no allocation on the per-line path.
type counters struct {
	answers    [nReasons]atomic.Uint64 // by the reason that decided
	unreadable atomic.Uint64           // lines answered without a decision
}

func (c *counters) answered(r authz.Reason) {
	if int(r) < nReasons {
		c.answers[r].Add(1)
	}
}

// gateStats are the counters and what their writer keeps between writes.
type gateStats struct {
	counters

	start time.Time // when the map opened: its counters started at 0
	// mu guards base and closing, which a reload replacing the session
	// checker updates while the writer sums them.
	mu      sync.Mutex
	base    session.Stats    // of the checkers reloads have closed
	closing *session.Checker // replaced by a reload, not yet closed

	buf        []byte // the file's text, reused
	failing    bool   // the last write failed: warned once for this outage
	stop, done chan struct{}
}

// totals are the counters at one moment, as stats_file shows them.
type totals struct {
	answers    [nReasons]uint64
	unreadable uint64
	session    session.Stats
	start, at  time.Time
}

// startStats starts the writer of stats_file (the map only): once now,
// then every interval, and once more at stopStats.
func (g *Gate) startStats() {
	g.stats.stop, g.stats.done = make(chan struct{}), make(chan struct{})
	every := g.opts.StatsInterval
	if every <= 0 {
		every = StatsInterval
	}
	go func() {
		defer close(g.stats.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			g.writeStats()
			select {
			case <-g.stats.stop:
				g.writeStats()
				return
			case <-t.C:
			}
		}
	}()
}

// stopStats writes the counters a last time and stops the writer.
func (g *Gate) stopStats() {
	if g.stats.stop != nil {
		close(g.stats.stop)
		<-g.stats.done
	}
}

// writeStats replaces stats_file with the counters as they are now, by
// rename, so a reader never sees half a file. A file that cannot be
// written is warned about once, and again only after a write worked: the
// map goes on answering and counting either way.
func (g *Gate) writeStats() {
	t, path := g.totals()
	if path == "" {
		return
	}
	g.stats.buf = appendTotals(g.stats.buf[:0], &t)
	err := flagfile.WriteAtomic(path, g.stats.buf, 0o644)
	switch {
	case err != nil && !g.stats.failing:
		g.stats.failing = true
		g.Logger().Warn().Err(err).Str("stats_file", path).
			Msg("cannot write the counters to stats_file; retrying every interval without logging again; create its directory writable by the map's user, or set stats_file = \"\" to turn them off")
	case err == nil && g.stats.failing:
		g.stats.failing = false
		g.Logger().Info().Str("stats_file", path).Msg("counters written to stats_file again")
	}
}

// totals reads the counters, and the stats_file of the configuration in
// force. The snapshot is loaded under mu, so a session checker that a
// reload is replacing is counted exactly once (see retireSessions).
func (g *Gate) totals() (totals, string) {
	st := &g.stats
	// The wall clock, not Options.Now: these are Unix times for whoever
	// reads the file, and a test's clock is not safe to call from here.
	t := totals{unreadable: st.unreadable.Load(), start: st.start, at: time.Now()}
	for i := range t.answers {
		t.answers[i] = st.answers[i].Load()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s := g.snap.Load()
	t.session = st.base
	if st.closing != nil {
		t.session = t.session.Add(st.closing.Stats())
	}
	if s.Sessions != nil && s.Sessions != st.closing {
		t.session = t.session.Add(s.Sessions.Stats())
	}
	return t, s.Config.StatsFile
}

// retireSessions marks c, about to be replaced by a reload, as closing:
// counted apart from the snapshot until retiredSessions adds its final
// counts to the base, so the session counters never go down.
func (g *Gate) retireSessions(c *session.Checker) {
	g.stats.mu.Lock()
	g.stats.closing = c
	g.stats.mu.Unlock()
}

// retiredSessions adds c's final counts (after Close) to the base.
func (g *Gate) retiredSessions(c *session.Checker) {
	g.stats.mu.Lock()
	g.stats.base = g.stats.base.Add(c.Stats())
	g.stats.closing = nil
	g.stats.mu.Unlock()
}

// appendTotals appends t in node_exporter's textfile format (Prometheus
// text exposition 0.0.4): every series always present, 0 included, so a
// reader never has to tell "none yet" from "not written". Times are whole
// Unix seconds.
func appendTotals(b []byte, t *totals) []byte {
	b = appendHeader(b, "maintgate_answers_total", "counter", "Key lines answered, by answer and the rule that decided.")
	for r, n := range t.answers {
		answer := "allow"
		if authz.Reason(r) == authz.Redirected {
			answer = "redirect"
		}
		b = append(b, `maintgate_answers_total{answer="`...)
		b = append(b, answer...)
		b = append(b, `",reason="`...)
		b = append(b, reasonLabel[r]...)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, n, 10)
		b = append(b, '\n')
	}
	b = appendMetric(b, "maintgate_unreadable_lines_total", "counter", "Key lines that could not be parsed, answered by on_error (a line cut for length: redirect).", t.unreadable)
	b = appendMetric(b, "maintgate_session_lookups_total", "counter", "Session database lookups made.", t.session.Lookups)
	b = appendMetric(b, "maintgate_session_cache_hits_total", "counter", "Session cookies answered from the cache.", t.session.CacheHits)
	b = appendMetric(b, "maintgate_session_db_errors_total", "counter", "Session lookups the database failed (unreachable, locked, timed out, error).", t.session.DBErrors)
	b = appendMetric(b, "maintgate_map_start_time_seconds", "gauge", "Unix time the map started (its counters started at 0).", uint64(t.start.Unix()))
	return appendMetric(b, "maintgate_stats_time_seconds", "gauge", "Unix time of this write.", uint64(t.at.Unix()))
}

func appendHeader(b []byte, name, kind, help string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, kind...)
	return append(b, '\n')
}

func appendMetric(b []byte, name, kind, help string, v uint64) []byte {
	b = appendHeader(b, name, kind, help)
	b = append(b, name...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}
