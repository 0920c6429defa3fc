package main

import (
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/page"
)

// renderPage re-renders the maintenance page when the config names a
// template; a failure is a warning, never a reason to leave the flag unset.
func renderPage(cfg *config.Config, active bool, f flagfile.Flag) error {
	if cfg.PageTemplate == "" {
		return nil
	}
	return page.RenderFile(cfg.PageTemplate, cfg.PageFile, page.NewData(active, f, time.Now()))
}
