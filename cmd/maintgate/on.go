package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
)

// runOn switches maintenance on, or updates the metadata of a maintenance
// already on, for the server-wide switch or each --site. Flags given
// replace their field; fields not given are kept, so `on --message "…"`
// never clears an end time set before. The change itself is
// control.Controller.On, which the panel shares.
func runOn(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "on")
	var ch control.Change
	var sites multi
	var allow, allowPaths multi
	var local bool
	fs.StringVar(&ch.Message, "message", "", "message shown on the maintenance page")
	fs.StringVar(&ch.Until, "until", "", "end `time`: 90m, 14:30, \"2026-12-01 06:00\" or RFC 3339; maintenance ends by itself then; none drops an end time kept from an earlier 'maintgate on'")
	fs.StringVar(&ch.Start, "start", "", "start `time`, same forms as --until; maintenance begins by itself then")
	fs.Var(&allow, "allow", "`IP/CIDR` whitelisted for this maintenance window only (repeatable)")
	fs.Var(&allowPaths, "allow-path", "path `prefix` open for this maintenance window only, like allow_paths (repeatable)")
	fs.Var(&sites, "site", "switch the site `NAME` ([sites.NAME], or default: the server-wide switch) (repeatable); without it, the server-wide switch")
	fs.BoolVar(&ch.Clear, "clear", false, "drop the message, times, --allow and --allow-path entries kept from an earlier 'maintgate on' before applying these flags")
	fs.BoolVar(&local, "local", false, "with [fleet] redis set: switch this host only, not the fleet")
	if err := parse(fs, args); err != nil {
		return err
	}
	ch.Set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { ch.Set[strings.ReplaceAll(fl.Name, "-path", "_paths")] = true })
	ch.Allow, ch.AllowPaths = allow, allowPaths
	c, done, err := controller(ctx, e, *cfgPath, local)
	if err != nil {
		return err
	}
	defer done()
	r, err := c.On(ctx, sites, ch)
	if err != nil {
		return changeError("on", err)
	}
	report := func() {
		for _, s := range r.Sites {
			printOn(e, s.Before.Active(r.Now), s.After, r.Now)
		}
	}
	finishChange(e, r, report)
	return nil
}

// controller is the Controller of a command: the config, the Unix user,
// and the fleet's store unless local (fleet.go). done releases the
// store's connection.
func controller(ctx context.Context, e *env, cfgPath string, local bool) (*control.Controller, func(), error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	remote, done, err := fleetRemote(ctx, e, cfg, local)
	if err != nil {
		return nil, nil, err
	}
	return &control.Controller{Config: cfg, Actor: control.UnixActor(), Remote: remote}, done, nil
}

// changeError makes a control.InputError a usage error of cmd.
func changeError(cmd string, err error) error {
	var ie *control.InputError
	if errors.As(err, &ie) {
		return usageError("%s: %s", cmd, ie.Msg)
	}
	return err
}

// finishChange prints a change's warnings, then what it did (report),
// then its notes: the order the commands always printed them in.
func finishChange(e *env, r control.Result, report func()) {
	for _, w := range r.Warnings {
		warnf(e, "%s", w)
	}
	report()
	for _, n := range r.Notes {
		fmt.Fprintf(e.stderr, "# %s\n", n)
	}
}

// printOn says what `on` did to one switch (updated: it was on before),
// then the flag it wrote.
func printOn(e *env, wasOn bool, s control.Switch, now time.Time) {
	verb := "maintenance on"
	switch {
	case !s.Flag.ActiveAt(now):
		verb = "maintenance scheduled"
	case wasOn:
		verb = "maintenance updated"
	}
	fmt.Fprintf(e.stdout, "%s%s (flag %s)\n", verb, control.SiteLabel(s.Name), s.FlagFile)
	printFlag(e, s.Flag, now)
}
