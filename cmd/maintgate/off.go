package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// runOff ends maintenance on the server-wide switch or each --site: the
// flag goes, and the state map says off so Apache stops asking at once.
// A site stays in maintenance while the server-wide switch is on, and
// the server-wide off leaves sites switched on by their own flag down: a
// note on stderr says so.
func runOff(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "off")
	var given multi
	fs.Var(&given, "site", "end maintenance of the site `NAME` (repeatable); without it, the server-wide switch")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	names, err := siteNames(cfg, "off", given, []string{config.DefaultSite})
	if err != nil {
		return err
	}
	before := switches(cfg)
	for _, n := range names {
		if err := flagfile.Remove(before[n].flagFile); err != nil {
			return err
		}
	}
	now := time.Now().Truncate(time.Second)
	all := switches(cfg)
	if err := writeStateMap(cfg, all, now); err != nil {
		return fmt.Errorf("%w (the flag is removed; maintgate map will retry)", err)
	}
	waitApplied(e, cfg, names)
	renderPages(e, cfg, all, names, now)
	for _, n := range names {
		if before[n].present {
			fmt.Fprintf(e.stdout, "maintenance off%s\n", siteLabel(n))
		} else {
			fmt.Fprintf(e.stdout, "maintenance was already off%s\n", siteLabel(n))
		}
	}
	noteStillDown(e, cfg, all, names, now)
	return nil
}

// noteStillDown tells the operator which of the sites just switched off
// are still in maintenance, and why.
func noteStillDown(e *env, cfg *config.Config, all map[string]siteSwitch, names []string, now time.Time) {
	var own []string
	for _, n := range cfg.SiteNames()[1:] {
		if s := all[n]; s.active(now) {
			own = append(own, n)
		}
	}
	for _, n := range names {
		if n == config.DefaultSite {
			if len(own) > 0 {
				fmt.Fprintf(e.stderr, "# still in maintenance by their own switch: %s (maintgate off --site NAME)\n", strings.Join(own, ", "))
			}
		} else if inMaintenance(all, n, now) {
			fmt.Fprintf(e.stderr, "# site %s stays in maintenance while the server-wide switch is on (maintgate off)\n", n)
		}
	}
}
