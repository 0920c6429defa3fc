package main

import (
	"context"
	"fmt"

	"github.com/maintgate/maintgate/control"
)

// runOff ends maintenance on the server-wide switch or each --site: the
// flag goes, and the state map says off so Apache stops asking at once
// (control.Controller.Off, which the panel shares). A site stays in
// maintenance while the server-wide switch is on; a note says so.
func runOff(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "off")
	var given multi
	var local bool
	fs.Var(&given, "site", "end maintenance of the site `NAME` (repeatable); without it, the server-wide switch")
	fs.BoolVar(&local, "local", false, "with [fleet] redis set: switch this host only, not the fleet")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, done, err := controller(ctx, e, *cfgPath, local)
	if err != nil {
		return err
	}
	defer done()
	r, err := c.Off(ctx, given)
	if err != nil {
		return changeError("off", err)
	}
	finishChange(e, r, func() {
		for _, s := range r.Sites {
			if s.Before.Present {
				fmt.Fprintf(e.stdout, "maintenance off%s\n", control.SiteLabel(s.Name))
			} else {
				fmt.Fprintf(e.stdout, "maintenance was already off%s\n", control.SiteLabel(s.Name))
			}
		}
	})
	return nil
}
