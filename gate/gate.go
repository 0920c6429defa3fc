// Package gate is the running maintgate: it holds the live configuration
// snapshot and the flag state, keeps them in step with their files, keeps
// Apache's state map in step with the flag, and answers key lines with the
// authz decision.
//
// All readers load immutable snapshots through atomic pointers and never
// lock; only the watcher (and, rarely, the answer path re-checking a flag
// that looks off) builds new ones.
package gate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/session"
	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/rewritemap"
	"github.com/maintgate/maintgate/whitelist"
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
	// Now overrides the clock (tests).
	Now func() time.Time
}

// Gate answers key lines. Answer is not safe for concurrent use (the map
// protocol is strictly serial); everything else is.
type Gate struct {
	opts Options
	now  func() time.Time

	snap atomic.Pointer[Snapshot]
	win  atomic.Pointer[authz.Window]
	log  atomic.Pointer[Logger]

	// flagMu guards flagStamp and lastState, which both the watcher and
	// the answer path (a line while the flag looks off) update.
	flagMu    sync.Mutex
	flagStamp stamp
	lastState flagfile.State

	stamps map[string]stamp // config and the files it names, by path

	unreadable limiter
	parser     rewritemap.Parser // its strings live until the next line

	// pending is the log line of the last answer, written by After once
	// the answer is flushed (the map loop is serial, so one slot does).
	pending pendingLog

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
	g.refreshFlag(true)
	if o.Watch {
		g.stop, g.done = make(chan struct{}), make(chan struct{})
		go g.watch()
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
	g.snap.Store(&Snapshot{Config: cfg, Policy: &authz.Policy{AllowPaths: cfg.AllowPaths}, Broken: true, Loaded: g.now()})
	g.win.Store(&authz.Window{Present: true})
	g.stamps = map[string]stamp{}
	for _, f := range watch {
		g.stamps[f] = statStamp(f)
	}
	g.stop, g.done = make(chan struct{}), make(chan struct{})
	go g.watch()
	return g, nil
}

// Close stops the watcher, closes the session store and flushes the log.
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
	if s := g.snap.Load(); s != nil && s.Sessions != nil {
		s.Sessions.Close()
	}
	return g.log.Load().Close()
}

// Snapshot returns the configuration in force.
func (g *Gate) Snapshot() *Snapshot { return g.snap.Load() }

// Window returns the flag state in force.
func (g *Gate) Window() *authz.Window { return g.win.Load() }

// Logger returns the current logger.
func (g *Gate) Logger() *zerolog.Logger { return &g.log.Load().Logger }

// build makes a snapshot from cfg. prev, if any, lends its session checker
// when the session settings did not change, so the cache survives reloads.
func (g *Gate) build(cfg *config.Config, prev *Snapshot) (*Snapshot, error) {
	s := &Snapshot{Config: cfg, Loaded: g.now()}
	var problems []string
	warn := func(msg string) { s.Warnings = append(s.Warnings, msg) }

	wl, probs := whitelist.New(cfg.Whitelist, cfg.Path, "whitelist")
	for _, p := range probs {
		warn(p.Error())
	}
	if cfg.WhitelistFile != "" {
		fl, probs, err := whitelist.Load(cfg.WhitelistFile)
		if err != nil {
			problems = append(problems, err.Error())
		}
		for _, p := range probs {
			warn(p.Error())
		}
		wl = whitelist.Merge(wl, fl)
	}
	trusted, probs := whitelist.New(cfg.TrustedProxies, cfg.Path, "trusted_proxies")
	for _, p := range probs {
		// A skipped trusted proxy only makes X-Forwarded-For count less:
		// safe to skip, like a bad whitelist line.
		warn(p.Error())
	}
	var key []byte
	if cfg.Token.KeyFile != "" {
		k, err := token.LoadKey(cfg.Token.KeyFile)
		if err != nil {
			problems = append(problems, err.Error())
		}
		key = k
		if err := token.CheckMode(cfg.Token.KeyFile); err != nil {
			warn(err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, &config.Error{Problems: problems}
	}
	s.Policy = &authz.Policy{
		AllowPaths:     cfg.AllowPaths,
		AdminPaths:     cfg.AdminPaths,
		AllowAdmin:     cfg.AllowAdminDuringMaintenance,
		Whitelist:      wl,
		TrustedProxies: trusted,
		TokenCookie:    cfg.Token.Cookie,
		TokenKey:       key,
		SessionCookie:  cfg.Session.Cookie,
		OnError:        cfg.OnError == "allow",
	}
	if cfg.Session.Store != "none" {
		if prev != nil && prev.Sessions != nil && prev.Config.Session == cfg.Session && !g.changed(cfg.Session.SecretKeyFile) {
			s.Sessions = prev.Sessions
		} else {
			c, w, err := openSessions(cfg, g.Logger)
			if err != nil {
				return nil, err
			}
			if w != "" {
				warn(w)
			}
			s.Sessions = c
		}
	}
	return s, nil
}

func openSessions(cfg *config.Config, logger func() *zerolog.Logger) (*session.Checker, string, error) {
	sc := cfg.Session
	o := session.Options{
		Store:            sc.Store,
		Database:         sc.Database,
		SessionTable:     sc.SessionTable,
		UserTable:        sc.UserTable,
		CacheSize:        sc.CacheSize,
		CacheTTL:         sc.CacheTTL.Duration,
		NegativeTTL:      sc.NegativeTTL.Duration,
		LookupTimeout:    sc.LookupTimeout.Duration,
		MissRate:         sc.MissRate,
		MaxConns:         sc.MaxConns,
		SessionCookieAge: sc.CookieAge.Duration,
	}
	var warning string
	if sc.SecretKeyFile != "" {
		var err error
		if o.Secrets, err = session.LoadSecrets(sc.SecretKeyFile); err != nil {
			return nil, "", err
		}
	} else {
		warning = "session.secret_key_file is not set: session data is trusted as the database holds it, without checking Django's signature or the password hash"
	}
	loc, err := time.LoadLocation(sc.TimeZone)
	if err != nil {
		return nil, "", fmt.Errorf("session.time_zone: %w", err)
	}
	o.Location = loc
	// The logger in force at each line, not the one of today: a reload
	// that changes [log] closes the old one.
	o.Logger = logger
	c, err := session.Open(context.Background(), o)
	if err != nil {
		return nil, "", fmt.Errorf("session store: %w", err)
	}
	return c, warning, nil
}

// LogWarnings writes the snapshot's warnings to the log.
func (g *Gate) LogWarnings(s *Snapshot) {
	for _, w := range s.Warnings {
		g.Logger().Warn().Msg(w)
	}
}

// Answer implements rewritemap.Answerer.
func (g *Gate) Answer(l rewritemap.Line) string {
	now := g.now()
	w := g.win.Load()
	if string(l.Text) == "@retry-after" {
		return retryAfter(w, now)
	}
	if !w.Active(now) {
		// Apache asks only while its state map says on, and `maintgate
		// on` writes the flag before the state map; so a line here while
		// the flag looks off most likely follows a flag just set. Look
		// now (one stat) rather than at the next tick, so that the very
		// first request after `on` is gated.
		g.refreshFlag(false)
		if w = g.win.Load(); !w.Active(now) {
			return rewritemap.Allow
		}
	}
	s := g.snap.Load()
	k, err := g.parser.ParseLine(l)
	if err != nil {
		return g.unreadableAnswer(s, l, err)
	}
	d := authz.Decide(s.Policy, w, authz.Request{Peer: k.Peer, Path: k.Path, XFF: k.XFF, Cookie: k.Cookie}, now, sessionsOf(s))
	g.pending = pendingLog{kind: logDecision, key: k, d: d}
	if d.Allow {
		return rewritemap.Allow
	}
	return rewritemap.Redirect
}

// Recover implements rewritemap.Answerer: a panic is a failure, answered
// like an unreadable line.
func (g *Gate) Recover(l rewritemap.Line, v any) string {
	g.Logger().Error().Interface("panic", v).Msg("decision panicked; answered as on_error")
	if s := g.snap.Load(); s != nil && s.Policy.OnError {
		return rewritemap.Allow
	}
	return rewritemap.Redirect
}

// retryAfter answers the "@retry-after" key, which the shipped 503 config
// asks for its Retry-After header: whole seconds until the flag's end time,
// at least 1, or "none" when no end time is set.
func retryAfter(w *authz.Window, now time.Time) string {
	if !w.Active(now) || w.Flag.Until.IsZero() {
		return "none"
	}
	secs := int64(w.Flag.Until.Sub(now).Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}

func sessionsOf(s *Snapshot) authz.SessionChecker {
	if s.Sessions == nil {
		return nil
	}
	return s.Sessions
}

// unreadableAnswer answers a line that could not be parsed: on_error,
// except for a line cut for length, which is always redirected.
func (g *Gate) unreadableAnswer(s *Snapshot, l rewritemap.Line, err error) string {
	ans := rewritemap.Redirect
	var pe *rewritemap.ParseError
	if s.Policy.OnError && !(errors.As(err, &pe) && pe.Cut) {
		ans = rewritemap.Allow
	}
	if g.unreadable.allow(g.now()) {
		g.pending = pendingLog{kind: logUnreadable, why: err.Error(), size: len(l.Text), answer: ans, suppressed: g.unreadable.takeSuppressed()}
	}
	return ans
}

type logKind uint8

const (
	logNone logKind = iota
	logDecision
	logUnreadable
)

type pendingLog struct {
	kind       logKind
	key        rewritemap.Key
	d          authz.Decision
	why        string
	size       int
	answer     string
	suppressed int
}

// After implements rewritemap.Afterer: it logs the answer just sent.
func (g *Gate) After() {
	p := g.pending
	g.pending = pendingLog{}
	switch p.kind {
	case logDecision:
		g.logDecision(p.key, p.d)
	case logUnreadable:
		ev := g.Logger().Warn().Str("problem", p.why).Int("bytes", p.size)
		if p.suppressed > 0 {
			ev = ev.Int("suppressed", p.suppressed)
		}
		ev.Str("answer", p.answer).Msg("unreadable request line; answered with on_error")
	}
}

// logPath bounds what one log line carries of a request path.
const logPath = 512

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (g *Gate) logDecision(k rewritemap.Key, d authz.Decision) {
	lg := g.Logger()
	if !d.Allow {
		ev := lg.Info()
		if ev == nil {
			return
		}
		ev = ev.Stringer("ip", clientOr(d, k)).Str("path", trunc(k.Path, logPath))
		if d.Detail != "" {
			ev = ev.Str("detail", d.Detail)
		}
		ev.Msg("redirecting to maintenance page")
		return
	}
	ev := lg.Debug()
	if ev == nil {
		return
	}
	ev = ev.Str("reason", d.Reason.String()).Stringer("ip", clientOr(d, k)).Str("path", trunc(k.Path, logPath))
	if d.UserID != "" {
		ev = ev.Str("user_id", d.UserID)
	}
	if d.Detail != "" {
		ev = ev.Str("detail", d.Detail)
	}
	ev.Msg("allowing during maintenance")
}

func clientOr(d authz.Decision, k rewritemap.Key) fmtAddr {
	if d.Client.IsValid() {
		return fmtAddr{d.Client}
	}
	return fmtAddr{k.Peer}
}

type fmtAddr struct{ a interface{ String() string } }

func (f fmtAddr) String() string { return f.a.String() }

// Decide runs the decision for one request outside the map loop (`check`).
func (g *Gate) Decide(r authz.Request) authz.Decision {
	s := g.snap.Load()
	return authz.Decide(s.Policy, g.win.Load(), r, g.now(), sessionsOf(s))
}

// stamp identifies one version of a file cheaply, from one stat. The ctime
// is in it because the mtime is not enough: a file rewritten in place with
// the same size and its mtime put back (touch -r, rsync -t, a restore)
// keeps inode, size and mtime, but the kernel moves its ctime on every
// write, chmod and utimes, and nothing but the kernel can set it.
type stamp struct {
	exists bool
	dev    uint64
	ino    uint64
	mode   uint32
	size   int64
	mtime  int64
	ctime  int64
	err    bool
}

// statStamp stats path without allocating (syscall.Stat, not os.Stat): the
// answer path calls it for a line that arrives while maintenance looks off.
func statStamp(path string) stamp {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return stamp{err: err != syscall.ENOENT && err != syscall.ENOTDIR}
		}
		return stamp{exists: true, dev: st.Dev, ino: st.Ino, mode: st.Mode, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
	}
}

// refreshFlag re-reads the flag when its file changed, or always with
// force. In the map (Options.Watch) it also logs the change and brings the
// state map in step; one-shot commands (check, authz, config check) only
// read.
func (g *Gate) refreshFlag(force bool) {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	g.refreshFlagLocked(force)
}

// resetFlag re-reads the flag and rewrites the state map whatever it says:
// after a reload that moved either file, or the first good one.
// lastState is shared with the answer path (Answer -> refreshFlag ->
// syncState), so it is cleared under flagMu like every other access.
func (g *Gate) resetFlag() {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	g.lastState = ""
	g.refreshFlagLocked(true)
}

// refreshFlagLocked is refreshFlag with flagMu held.
func (g *Gate) refreshFlagLocked(force bool) {
	s := g.snap.Load()
	if s.Broken {
		return
	}
	cfg := s.Config
	st := statStamp(cfg.FlagFile)
	if !force && st == g.flagStamp && g.win.Load() != nil {
		return
	}
	g.flagStamp = st
	now := g.now()
	present, f, err := flagfile.Read(cfg.FlagFile)
	if err != nil {
		g.Logger().Error().Err(err).Msg("flag file unreadable; maintenance treated as active with no metadata")
	}
	w := &authz.Window{Present: present, Flag: f}
	if len(f.Allow) > 0 {
		l, probs := whitelist.New(f.Allow, "", "allow")
		for _, p := range probs {
			g.Logger().Warn().Msg("flag file " + cfg.FlagFile + ": " + p.Error())
		}
		w.Allow = l
	}
	old := g.win.Swap(w)
	if !g.opts.Watch {
		return
	}
	if old == nil || old.Present != present || old.Flag.Message != f.Message || !old.Flag.Until.Equal(f.Until) || !old.Flag.Start.Equal(f.Start) {
		g.Logger().Info().Bool("present", present).Bool("active", w.Active(now)).Str("flag_message", f.Message).Msg("maintenance flag changed")
	}
	g.syncState(cfg, now)
}

// tickState keeps the state map right when only the clock changed (a
// window opening or closing) or the file was deleted.
func (g *Gate) tickState() {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	if s := g.snap.Load(); !s.Broken {
		g.syncState(s.Config, g.now())
	}
}

// syncState writes the state map when what it should say changed, or when
// the file is gone (Apache then asks maintgate for every request).
func (g *Gate) syncState(cfg *config.Config, now time.Time) {
	if cfg.StateMap == "" {
		return
	}
	want := flagfile.Off
	if g.win.Load().Active(now) {
		want = flagfile.On
	}
	if want == g.lastState {
		if _, err := os.Stat(cfg.StateMap); err == nil {
			return
		}
	}
	if _, err := flagfile.WriteState(cfg.StateMap, want); err != nil {
		g.Logger().Error().Err(err).Msg("cannot write the state map; Apache keeps its last state")
		return
	}
	if want != g.lastState {
		g.Logger().Info().Str("state", string(want)).Str("state_map", cfg.StateMap).Msg("state map updated")
	}
	g.lastState = want
}

// watched lists the files whose change means a reload.
func watched(c *config.Config) []string {
	files := []string{c.Path}
	for _, f := range []string{c.WhitelistFile, c.Token.KeyFile, c.Session.SecretKeyFile} {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

func (g *Gate) stampAll(s *Snapshot) {
	m := map[string]stamp{}
	for _, f := range watched(s.Config) {
		m[f] = statStamp(f)
	}
	g.stamps = m
}

func (g *Gate) changed(path string) bool {
	if path == "" {
		return false
	}
	old, ok := g.stamps[path]
	return !ok || old != statStamp(path)
}

func (g *Gate) watch() {
	defer close(g.done)
	t := time.NewTicker(g.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.refreshFlag(false)
		g.tickState()
		g.maybeReload()
		g.log.Load().sink.checkRotated()
	}
}

// maybeReload reloads when the config or a file it names changed. A broken
// new configuration is logged and the last good one stays in force.
func (g *Gate) maybeReload() {
	cur := g.snap.Load()
	dirty := false
	// g.stamps also holds the files a broken new config named, so fixing
	// one of them retries the reload.
	for f := range g.stamps {
		if g.changed(f) {
			dirty = true
			break
		}
	}
	if !dirty {
		return
	}
	// Stamp before reading: a broken file is reported once, not at every
	// tick, and a change made while we read is seen at the next tick.
	stamps := map[string]stamp{}
	for _, f := range watched(cur.Config) {
		stamps[f] = statStamp(f)
	}
	cfg, err := config.Load(cur.Config.Path)
	if err == nil {
		for _, f := range watched(cfg) {
			if _, ok := stamps[f]; !ok {
				stamps[f] = statStamp(f)
			}
		}
	}
	var next *Snapshot
	if err == nil {
		next, err = g.build(cfg, cur)
	}
	g.stamps = stamps
	if err != nil {
		g.Logger().Warn().Err(err).Msg("configuration reload failed; keeping the last good configuration")
		return
	}
	if lc := cfg.Log; lc != cur.Config.Log || cur.Broken {
		if lg, err := NewLogger(LogOptions{File: lc.File, Level: lc.Level, Format: lc.Format, Async: g.opts.AsyncLog}); err != nil {
			g.Logger().Warn().Err(err).Msg("new log settings unusable; keeping the current log")
		} else {
			old := g.log.Swap(lg)
			old.Close()
		}
	}
	g.snap.Store(next)
	g.LogWarnings(next)
	g.Logger().Info().Str("config", cfg.Path).Int("whitelist", next.Policy.Whitelist.Len()).Msg("configuration reloaded")
	if cur.Sessions != nil && cur.Sessions != next.Sessions {
		cur.Sessions.Close()
	}
	if cur.Broken || cfg.FlagFile != cur.Config.FlagFile || cfg.StateMap != cur.Config.StateMap {
		g.resetFlag()
	}
}

// limiter lets through a few lines per second and counts the rest, so a
// flood of bad lines cannot fill the disk. Used from the answer path only.
type limiter struct {
	sec        int64
	n          int
	suppressed int
}

const perSecond = 10

func (l *limiter) allow(now time.Time) bool {
	s := now.Unix()
	if s != l.sec {
		l.sec, l.n = s, 0
	}
	if l.n < perSecond {
		l.n++
		return true
	}
	l.suppressed++
	return false
}

func (l *limiter) takeSuppressed() int {
	n := l.suppressed
	l.suppressed = 0
	return n
}
