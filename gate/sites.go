package gate

import (
	"slices"
	"sync/atomic"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/whitelist"
)

// Site is one site of the server as the gate runs it: its policy (the
// top-level one with its [sites.NAME] table applied) and its switch. The
// site config.DefaultSite is the server-wide switch and the top-level
// policy.
type Site struct {
	Name   string
	Policy *authz.Policy
	flag   *siteFlag
}

// siteFlag follows one flag file. win is what the answer path reads: the
// file's window and, for a site other than default, the server-wide
// window behind it (authz.Window.Server), so that one atomic load gives
// the whole state of a site.
type siteFlag struct {
	path  string
	win   atomic.Pointer[authz.Window]
	stamp stamp // guarded by Gate.flagMu
}

// SiteState is one site's switch as `maintgate status` shows it.
type SiteState struct {
	Name     string
	FlagFile string
	// Window is the site's own flag (for default: the server-wide flag),
	// with the server-wide window as its Server.
	Window *authz.Window
	// Own: the site's own flag is present and open now. Active: the site
	// is in maintenance now (its own flag or the server-wide one).
	Own, Active bool
}

// Sites lists every site, default first, then by name, with its switch
// as the gate last read it.
func (g *Gate) Sites() []SiteState {
	s := g.snap.Load()
	now := g.now()
	out := make([]SiteState, 0, len(s.SiteList))
	for _, st := range s.SiteList {
		w := st.flag.win.Load()
		out = append(out, SiteState{Name: st.Name, FlagFile: st.flag.path, Window: w, Own: w.Own(now), Active: w.Active(now)})
	}
	return out
}

// DecideSite runs the decision for one request of a site outside the map
// loop (`check --site`). A site the configuration does not define is
// decided as default, as the map does.
func (g *Gate) DecideSite(site string, r authz.Request) authz.Decision {
	s := g.snap.Load()
	st := s.siteOrDefault(site)
	return authz.Decide(st.Policy, st.flag.win.Load(), r, g.now(), sessionsOf(s))
}

// siteOrDefault is the site called name, or default when there is none:
// a map read, whatever the number of sites. string(b) of a []byte in a
// map index does not allocate.
func (s *Snapshot) siteOrDefault(name string) *Site {
	if st, ok := s.Sites[name]; ok {
		return st
	}
	return s.Default
}

// buildSites makes the snapshot's sites: default with the top-level
// policy, and one per [sites.NAME] table. A site keeps prev's siteFlag
// (and so its window) when its flag file did not move.
func buildSites(s *Snapshot, prev *Snapshot, r *loadReport) {
	cfg := s.Config
	names := cfg.SiteNames()
	s.Sites = make(map[string]*Site, len(names))
	s.SiteList = make([]*Site, 0, len(names))
	for _, name := range names {
		st := &Site{Name: name, Policy: s.Policy}
		path := cfg.FlagFile
		if name != config.DefaultSite {
			sc := cfg.Sites[name]
			path = sc.FlagFile
			st.Policy = s.Policy.ForSite(siteRules(cfg, name, sc, r))
		}
		st.flag = prev.flagOf(name, path)
		s.Sites[name] = st
		s.SiteList = append(s.SiteList, st)
	}
	s.Default = s.Sites[config.DefaultSite]
}

// siteRules reads a [sites.NAME] table into what it changes in the
// policy; a bad whitelist entry is skipped with a warning, an unreadable
// whitelist file fails the build.
func siteRules(cfg *config.Config, name string, sc config.Site, r *loadReport) authz.SiteRules {
	var sr authz.SiteRules
	if sc.AllowPaths != nil {
		sr.AllowPaths = withPage(sc.AllowPaths, cfg.MaintenancePage)
	}
	sr.AdminPaths = sc.AdminPaths
	wl, probs := whitelist.New(sc.Whitelist, cfg.Path, "sites."+name+".whitelist")
	r.skipped(probs)
	if sc.WhitelistFile != "" {
		fl, probs, err := whitelist.Load(sc.WhitelistFile)
		if err != nil {
			r.fail(err)
		}
		r.skipped(probs)
		wl = whitelist.Merge(wl, fl)
	}
	sr.Whitelist = wl
	return sr
}

// withPage is paths with page added when no entry covers it: a visitor
// sent to the maintenance page must be let through to it, or the
// redirect loops.
func withPage(paths []string, page string) []string {
	if authz.MatchPrefix(paths, page) {
		return paths
	}
	return append(slices.Clip(paths), page)
}

// flagOf is the siteFlag prev had for the site, when its file is the
// same; otherwise a new one, read at the next refresh.
func (prev *Snapshot) flagOf(name, path string) *siteFlag {
	if prev != nil && !prev.Broken {
		if old, ok := prev.Sites[name]; ok && old.flag.path == path {
			return old.flag
		}
	}
	return &siteFlag{path: path}
}

// flagsMoved reports whether next follows other flag files than cur (a
// site added, removed or given another file): the flags and the state
// map are then read and written anew.
func flagsMoved(cur, next *Snapshot) bool {
	if len(cur.SiteList) != len(next.SiteList) {
		return true
	}
	for i, st := range cur.SiteList {
		if n := next.SiteList[i]; n.Name != st.Name || n.flag != st.flag {
			return true
		}
	}
	return false
}
