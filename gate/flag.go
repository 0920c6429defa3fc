package gate

import (
	"os"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

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
