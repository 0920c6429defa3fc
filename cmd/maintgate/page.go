package main

import (
	"slices"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/page"
)

// pageOf is the template and output of a site's maintenance page: the
// top-level page_template for the server-wide switch, [sites.NAME]'s own
// for a site; "" when none is configured.
func pageOf(cfg *config.Config, site string) (tmpl, out string) {
	if site == config.DefaultSite {
		return cfg.PageTemplate, cfg.PageFile
	}
	s := cfg.Sites[site]
	return s.PageTemplate, s.PageFile
}

// renderPages re-renders the page of each site in changed that has one,
// and of every site when the server-wide switch changed: a site's page
// shows its own window when it has one open or to come, else the
// server-wide one, else "temporarily unavailable" (it is then only the
// backend-down fallback). A failure is a warning, never a reason to leave
// a flag unset.
func renderPages(e *env, cfg *config.Config, all map[string]siteSwitch, changed []string, now time.Time) {
	if slices.Contains(changed, config.DefaultSite) {
		changed = cfg.SiteNames()
	}
	for _, name := range changed {
		tmpl, out := pageOf(cfg, name)
		if tmpl == "" {
			continue
		}
		if err := page.RenderFile(tmpl, out, pageData(all, name, now)); err != nil {
			warnf(e, "%v", err)
		}
	}
}

func pageData(all map[string]siteSwitch, name string, now time.Time) page.Data {
	own, server := all[name], all[config.DefaultSite]
	switch {
	case own.pending(now):
		return page.NewData(true, own.flag, now)
	case server.pending(now):
		return page.NewData(true, server.flag, now)
	}
	return page.NewData(false, flagfile.Flag{}, now)
}
