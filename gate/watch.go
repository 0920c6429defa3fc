package gate

import (
	"time"

	"github.com/maintgate/maintgate/config"
)

// watch runs until Close. It applies a flag change as soon as inotify
// reports it (notify.go), then acknowledges it (ack.go), so that `on` and
// `off` return only once this map decides by the flag they wrote; and
// every Options.Interval it follows the flag anyway, the clock (a window
// opening or closing), the config and the files it names, and the log
// file's rotation.
func (g *Gate) watch() {
	defer close(g.done)
	t := time.NewTicker(g.opts.Interval)
	defer t.Stop()
	n, err := newNotifier()
	if err != nil {
		g.Logger().Warn().Err(err).Msg("cannot follow the flag files with inotify; flag changes are seen at the next request that looks or within the poll interval, and maintgate on/off wait for that")
	}
	defer n.close()
	var a acker
	n.follow(flagPaths(g.snap.Load()))
	g.ack(&a)
	for {
		select {
		case <-g.stop:
			return
		case <-n.changed():
			g.refreshFlags(false)
			g.ack(&a)
			continue
		case <-t.C:
		}
		g.refreshFlags(false)
		g.tickState()
		g.maybeReload()
		n.follow(flagPaths(g.snap.Load()))
		g.ack(&a)
		g.log.Load().sink.checkRotated()
	}
}

// maybeReload reloads when the config or a file it names changed. A broken
// new configuration is logged and the last good one stays in force.
func (g *Gate) maybeReload() {
	if !g.anyChanged() {
		return
	}
	cur := g.snap.Load()
	next, err := g.load(cur)
	if err != nil {
		g.Logger().Warn().Err(err).Msg("configuration reload failed; keeping the last good configuration")
		return
	}
	g.install(cur, next)
}

// load reads the config again and builds a snapshot from it. It stamps
// the files before reading them: a broken file is reported once, not at
// every tick, and a change made while it reads is seen at the next tick.
// The stamps kept include the files a broken new config names, so fixing
// one of them retries the reload.
func (g *Gate) load(cur *Snapshot) (*Snapshot, error) {
	stamps := map[string]stamp{}
	for _, f := range watched(cur.Config) {
		stamps[f] = statStamp(f)
	}
	defer func() { g.stamps = stamps }()
	cfg, err := config.Load(cur.Config.Path)
	if err != nil {
		return nil, err
	}
	for _, f := range watched(cfg) {
		if _, ok := stamps[f]; !ok {
			stamps[f] = statStamp(f)
		}
	}
	return g.build(cfg, cur)
}

// install puts next in force in place of cur: the logger when [log]
// changed, the snapshot, and the flag and state map when their paths
// moved. It closes cur's session checker unless next kept it.
func (g *Gate) install(cur, next *Snapshot) {
	cfg := next.Config
	if lc := cfg.Log; lc != cur.Config.Log || cur.Broken {
		if lg, err := NewLogger(LogOptions{File: lc.File, Level: lc.Level, Format: lc.Format, Async: g.opts.AsyncLog}); err != nil {
			g.Logger().Warn().Err(err).Msg("new log settings unusable; keeping the current log")
		} else {
			old := g.log.Swap(lg)
			old.Close()
		}
	}
	retire := cur.Sessions != nil && cur.Sessions != next.Sessions
	if retire {
		g.retireSessions(cur.Sessions)
	}
	g.snap.Store(next)
	g.LogWarnings(next)
	g.Logger().Info().Str("config", cfg.Path).Int("whitelist", next.Policy.Whitelist.Len()).Msg("configuration reloaded")
	if retire {
		cur.Sessions.Close()
		g.retiredSessions(cur.Sessions)
	}
	if cur.Broken || flagsMoved(cur, next) || cfg.StateMap != cur.Config.StateMap {
		g.resetFlag()
	}
}
