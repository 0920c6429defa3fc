package gate

import (
	"slices"
	"strings"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

// refreshFlags re-reads every site's flag whose file changed, or all of
// them with force (Open, a reload that moved them). In the map
// (Options.Watch) it also logs each change and brings the state map in
// step; one-shot commands (check, authz, config check) only read.
func (g *Gate) refreshFlags(force bool) {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	g.refreshFlagsLocked(force)
}

// refreshSite is the answer path's look at a site whose window looks
// off: one stat of the server-wide flag and one of the site's own, so
// that the first request after `on` (or `on --site`) is gated.
func (g *Gate) refreshSite(s *Snapshot, st *Site) {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	if s.Broken {
		return
	}
	now := g.now()
	changed := g.readFlag(s, s.Default, false, now)
	if st != s.Default && g.readFlag(s, st, false, now) {
		changed = true
	}
	if changed && g.opts.Watch {
		g.syncState(s, now)
	}
}

// resetFlag re-reads the flags and rewrites the state map whatever it
// says: after a reload that moved a flag or the state map, or the first
// good one. lastLines is shared with the answer path (Answer ->
// refreshSite -> syncState), so it is cleared under flagMu like every
// other access.
func (g *Gate) resetFlag() {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	g.lastLines = nil
	g.refreshFlagsLocked(true)
}

// refreshFlagsLocked is refreshFlags with flagMu held. Default comes
// first in SiteList, so every site is read with the new server-wide
// window behind it.
func (g *Gate) refreshFlagsLocked(force bool) {
	s := g.snap.Load()
	if s.Broken {
		return
	}
	now := g.now()
	changed := false
	for _, st := range s.SiteList {
		if g.readFlag(s, st, force, now) {
			changed = true
		}
	}
	if changed && g.opts.Watch {
		g.syncState(s, now)
	}
}

// readFlag reads st's flag when its file changed (one stat) or with
// force, and reports whether it did. A new server-wide window is put
// behind every site's. flagMu must be held.
func (g *Gate) readFlag(s *Snapshot, st *Site, force bool, now time.Time) bool {
	sf := st.flag
	stp := statStamp(sf.path)
	if !force && stp == sf.stamp && sf.win.Load() != nil {
		return false
	}
	sf.stamp = stp
	present, f, err := flagfile.Read(sf.path)
	if err != nil {
		g.Logger().Error().Err(err).Str("site", st.Name).Msg("flag file unreadable; maintenance treated as active with no metadata")
	}
	w := &authz.Window{Present: present, Flag: f}
	g.readLists(w, sf.path)
	if st == s.Default {
		for _, o := range s.SiteList[1:] {
			if ow := o.flag.win.Load(); ow != nil {
				nw := *ow
				nw.Server = w
				o.flag.win.Store(&nw)
			}
		}
	} else {
		w.Server = s.Default.flag.win.Load()
	}
	old := sf.win.Swap(w)
	if g.opts.Watch && (old == nil || old.Present != present || old.Flag.Message != f.Message || !old.Flag.Until.Equal(f.Until) || !old.Flag.Start.Equal(f.Start)) {
		g.Logger().Info().Str("site", st.Name).Bool("present", present).Bool("active", w.Own(now)).Str("flag_message", f.Message).Msg("maintenance flag changed")
	}
	return true
}

// readLists parses the window's --allow addresses and checks its
// --allow-path prefixes; a bad entry is skipped with a warning.
func (g *Gate) readLists(w *authz.Window, path string) {
	f := &w.Flag
	if len(f.Allow) > 0 {
		l, probs := whitelist.New(f.Allow, "", "allow")
		for _, p := range probs {
			g.Logger().Warn().Msg("flag file " + path + ": " + p.Error())
		}
		w.Allow = l
	}
	for _, p := range f.AllowPaths {
		if !strings.HasPrefix(p, "/") {
			g.Logger().Warn().Str("allow_path", trunc(p, logPath)).Msg("flag file " + path + ": an allow_paths entry must start with /; entry skipped")
			continue
		}
		w.Paths = append(w.Paths, authz.CleanPath(p))
	}
}

// tickState keeps the state map right when only the clock changed (a
// window opening or closing), the file was deleted or someone else wrote
// it.
func (g *Gate) tickState() {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	if s := g.snap.Load(); !s.Broken {
		g.syncState(s, g.now())
	}
}

// syncState writes the state map when what it should say changed, or
// when the file is gone (Apache then asks maintgate for every request) or
// was written by someone else since. One line per site: NAME on while
// the site is in maintenance. flagMu must be held.
func (g *Gate) syncState(s *Snapshot, now time.Time) {
	path := s.Config.StateMap
	if path == "" {
		return
	}
	cur := statStamp(path)
	if g.lastLines != nil && cur != g.stateStamp {
		// Someone else wrote the state map: `maintgate on --site` writes
		// the flag first, then the state map. Read the flags before
		// rewriting it, or this map would put back its older view and
		// reopen that site until the next tick.
		for _, st := range s.SiteList {
			g.readFlag(s, st, false, now)
		}
	}
	lines := g.stateBuf[:0]
	for _, st := range s.SiteList {
		v := flagfile.Off
		if st.flag.win.Load().Active(now) {
			v = flagfile.On
		}
		lines = append(lines, flagfile.SiteState{Name: st.Name, State: v})
	}
	g.stateBuf = lines
	if g.lastLines != nil && cur.Exists && cur == g.stateStamp && slices.Equal(lines, g.lastLines) {
		return
	}
	if _, err := flagfile.WriteStates(path, lines); err != nil {
		g.Logger().Error().Err(err).Msg("cannot write the state map; Apache keeps its last state")
		return
	}
	if !slices.Equal(lines, g.lastLines) {
		var on []string
		for _, l := range lines {
			if l.State == flagfile.On {
				on = append(on, l.Name)
			}
		}
		g.Logger().Info().Str("state", string(lines[0].State)).Strs("sites_on", on).Str("state_map", path).Msg("state map updated")
	}
	g.lastLines = append(g.lastLines[:0], lines...)
	g.stateStamp = statStamp(path)
}
