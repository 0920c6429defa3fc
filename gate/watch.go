package gate

import (
	"time"

	"github.com/maintgate/maintgate/config"
)

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
