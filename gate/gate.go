// Package gate is the running maintgate: it holds the live configuration
// snapshot and the flag state, keeps them in step with their files, keeps
// Apache's state map in step with the flag, and answers key lines with the
// authz decision.
//
// All readers load immutable snapshots through atomic pointers and never
// lock; only the watcher (and, rarely, the answer path re-checking a flag
// that looks off) builds new ones.
//
// Files, by job:
//
//	gate.go      Gate, Options, Snapshot: Open (and openBroken, the map
//	             whose config does not load yet), Close, accessors
//	snapshot.go  building a Snapshot from a config: whitelists, token key,
//	             the session checker (kept across reloads when unchanged)
//	answer.go    the hot path: Answer, Recover, the @retry-after key,
//	             Decide; key lines naming unknown sites
//	sites.go     the sites: each one's policy and switch (Site), Sites and
//	             DecideSite for status and check
//	log.go       the log line of each answer, written by After once the
//	             answer is flushed; the limiter for unreadable lines
//	logger.go    the logger: its file (reopened after rotation) and the
//	             asynchronous batching writer
//	flag.go      the flag files (server-wide and each site's) and the
//	             txt: state map that mirrors them, one line per site
//	stamp.go     file stamps (one stat) and the files that mean a reload
//	watch.go     the watcher goroutine and the reload it makes
//	notify.go    inotify on the flags' directories: a change applied at once
//	ack.go       the acknowledgement beside the state map that on/off wait for
//	stats.go     the counters of answers (one atomic add a line) and their
//	             writer: stats_file every 10 s and at Close
package gate

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/session"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/rewritemap"
)

// PollInterval is how often the watcher looks at the flag, config,
// whitelist and key files. A flag that appears is also seen at the next
// request that reaches the map (see Answer); one that goes away is seen
// within PollInterval.
const PollInterval = 100 * time.Millisecond

// Snapshot is one loaded configuration with everything built from it.
type Snapshot struct {
	Config   *config.Config
	Policy   *authz.Policy
	Sessions *session.Checker // nil when session.store is "none"
	// Sites are the sites by name, default among them; SiteList the same,
	// default first, then by name; Default the server-wide switch.
	Sites    map[string]*Site
	SiteList []*Site
	Default  *Site
	// Warnings are the problems that were skipped while loading (bad
	// whitelist lines, a world-readable key file).
	Warnings []string
	// Loaded is when this snapshot was built.
	Loaded time.Time
	// Broken marks the stand-in used while the configuration has never
	// loaded: flag and state map paths are unknown, so neither is touched.
	Broken bool
}

// Options configure a Gate.
type Options struct {
	ConfigPath string
	// Async logging, for `map`.
	AsyncLog bool
	// Watch starts the watcher goroutine (map); one-shot commands leave it
	// off.
	Watch bool
	// Interval overrides PollInterval (tests).
	Interval time.Duration
	// StatsInterval overrides StatsInterval (tests).
	StatsInterval time.Duration
	// Now overrides the clock (tests).
	Now func() time.Time
	// SessionWait, when set, replaces session.lookup_timeout: for a
	// one-shot process that holds nobody else's pipe (the forked
	// `maintgate authz` checker, which opens the database cold for each
	// request and would answer a valid session 401 after 100 ms).
	SessionWait time.Duration
}

// Gate answers key lines. Answer is not safe for concurrent use (the map
// protocol is strictly serial); everything else is.
type Gate struct {
	opts Options
	now  func() time.Time

	snap atomic.Pointer[Snapshot]
	log  atomic.Pointer[Logger]

	// flagMu guards the sites' flag stamps and windows (written only
	// under it) and the state map's last lines, which both the watcher
	// and the answer path (a line while a site looks up) update.
	flagMu     sync.Mutex
	lastLines  []flagfile.SiteState // what the state map last said; nil: unknown
	stateStamp stamp                // the state map as last written
	stateBuf   []flagfile.SiteState

	unknown     unknownSites // names of unknown sites lately warned about
	pendingSite string       // an unknown site's name for After to warn about

	stamps map[string]stamp // config and the files it names, by path

	unreadable limiter
	parser     rewritemap.Parser // its strings live until the next line

	// pending is the log line of the last answer, written by After once
	// the answer is flushed (the map loop is serial, so one slot does).
	pending pendingLog

	stats gateStats // the counters of answers and their writer (stats.go)

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Open loads the configuration and the flag and, with Watch, starts the
// watcher. A configuration that cannot be loaded is an error: there is no
// last good one yet.
func Open(o Options) (*Gate, error) {
	g := &Gate{opts: o, now: o.Now, stamps: map[string]stamp{}}
	if g.now == nil {
		g.now = time.Now
	}
	g.stats.start = time.Now() // wall clock, as the file's other time (stats.go)
	if g.opts.Interval <= 0 {
		g.opts.Interval = PollInterval
	}
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		if !o.Watch {
			return nil, err
		}
		return g.openBroken(err, nil)
	}
	lg, err := NewLogger(LogOptions{File: cfg.Log.File, Level: cfg.Log.Level, Format: cfg.Log.Format, Async: o.AsyncLog})
	if err != nil {
		if !o.Watch {
			return nil, err
		}
		// The map must answer even when it cannot write its log file.
		lg, _ = NewLogger(LogOptions{Level: cfg.Log.Level, Async: o.AsyncLog})
		lg.Error().Err(err).Msg("cannot open log.file; logging to stderr")
	}
	g.log.Store(lg)
	s, err := g.build(cfg, nil)
	if err != nil {
		if o.Watch {
			return g.openBroken(err, cfg)
		}
		lg.Close()
		return nil, err
	}
	g.snap.Store(s)
	g.stampAll(s)
	g.refreshFlags(true)
	if o.Watch {
		g.stop, g.done = make(chan struct{}), make(chan struct{})
		go g.watch()
		g.startStats()
	}
	return g, nil
}

// openBroken starts a map whose configuration cannot be loaded yet. Exiting
// would leave Apache with a dead helper until its next restart; instead it
// answers every line "redirect" (Apache asks only while its state map says
// on, so this fails closed exactly when maintenance is believed on) and
// retries the file at every tick until it loads.
// loaded is the configuration when the file itself parsed but something it
// names (whitelist file, key file, session store) did not load; nil when the
// file itself is the problem.
func (g *Gate) openBroken(cause error, loaded *config.Config) (*Gate, error) {
	lg := g.log.Load()
	if lg == nil {
		lg, _ = NewLogger(LogOptions{Level: "info", Async: g.opts.AsyncLog})
		g.log.Store(lg)
	}
	lg.Error().Err(cause).Msg("configuration unusable at start; answering redirect to every request until it loads")
	cfg := config.Default()
	if abs, err := filepath.Abs(g.opts.ConfigPath); err == nil {
		cfg.Path = abs
	}
	watch := []string{cfg.Path}
	if loaded != nil {
		watch = watched(loaded)
	}
	// The default always-allowed paths stay open: the maintenance page
	// and its assets must load.
	def := &Site{Name: config.DefaultSite, Policy: &authz.Policy{AllowPaths: cfg.AllowPaths}, flag: &siteFlag{}}
	def.flag.win.Store(&authz.Window{Present: true})
	g.snap.Store(&Snapshot{Config: cfg, Policy: def.Policy, Broken: true, Loaded: g.now(),
		Sites: map[string]*Site{def.Name: def}, SiteList: []*Site{def}, Default: def})
	g.stamps = map[string]stamp{}
	for _, f := range watch {
		g.stamps[f] = statStamp(f)
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.watch()
	g.startStats()
	return g, nil
}

// Close stops the watcher, writes the counters a last time, closes the
// session store and flushes the log.
// It may be called more than once (the map closes on SIGTERM and at EOF).
func (g *Gate) Close() error {
	var err error
	g.closeOnce.Do(func() { err = g.close() })
	return err
}

func (g *Gate) close() error {
	if g.stop != nil {
		close(g.stop)
		<-g.done
	}
	g.stopStats()
	if s := g.snap.Load(); s != nil && s.Sessions != nil {
		s.Sessions.Close()
	}
	return g.log.Load().Close()
}

// Snapshot returns the configuration in force.
func (g *Gate) Snapshot() *Snapshot { return g.snap.Load() }

// Window returns the server-wide flag state in force (site default).
func (g *Gate) Window() *authz.Window { return g.snap.Load().Default.flag.win.Load() }

// Logger returns the current logger.
func (g *Gate) Logger() *zerolog.Logger { return &g.log.Load().Logger }
