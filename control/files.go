package control

import (
	"slices"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/page"
)

// writeStateMap brings the state map in step with every switch, so
// Apache sees the change at the next request of each site. The lines are
// the ones the map's own watcher writes (gate.syncState: every site,
// default first, in config.SiteNames order), so the two never disagree
// over the file and rewrite it back and forth.
func writeStateMap(cfg *config.Config, all Switches, now time.Time) error {
	names := cfg.SiteNames()
	lines := make([]flagfile.SiteState, 0, len(names))
	for _, n := range names {
		st := flagfile.Off
		if all.InMaintenance(n, now) {
			st = flagfile.On
		}
		lines = append(lines, flagfile.SiteState{Name: n, State: st})
	}
	_, err := flagfile.WriteStates(cfg.StateMap, lines)
	return err
}

// PageOf is the template and output of a site's maintenance page: the
// top-level page_template for the server-wide switch, [sites.NAME]'s own
// for a site; "" when none is configured.
func PageOf(cfg *config.Config, site string) (tmpl, out string) {
	if site == config.DefaultSite {
		return cfg.PageTemplate, cfg.PageFile
	}
	s := cfg.Sites[site]
	return s.PageTemplate, s.PageFile
}

// renderPages re-renders the page of each site in changed that has one,
// and of every site when the server-wide switch changed. A failure is a
// warning, never a reason to leave a flag unset.
func renderPages(cfg *config.Config, all Switches, changed []string, now time.Time) []string {
	if slices.Contains(changed, config.DefaultSite) {
		changed = cfg.SiteNames()
	}
	var warnings []string
	for _, name := range changed {
		tmpl, out := PageOf(cfg, name)
		if tmpl == "" {
			continue
		}
		if err := page.RenderFile(tmpl, out, PageData(all, name, now)); err != nil {
			warnings = append(warnings, err.Error())
		}
	}
	return warnings
}

// PageData is what a site's page shows: its own window when it has one
// open or to come, else the server-wide one, else "temporarily
// unavailable" (it is then only the backend-down fallback).
func PageData(all Switches, name string, now time.Time) page.Data {
	own, server := all[name], all[config.DefaultSite]
	switch {
	case own.Pending(now):
		return page.NewData(true, own.Flag, now)
	case server.Pending(now):
		return page.NewData(true, server.Flag, now)
	}
	return page.NewData(false, flagfile.Flag{}, now)
}
