package main

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/config/preflight"
	"github.com/maintgate/maintgate/gate"
)

// runConfig validates the configuration as `map` would load it, prints
// the effective configuration and whether the session database answers,
// then fails on every setup mistake the map would forgive (preflight):
// config check is where the operator learns of them, not the first
// visitor who cannot pass.
func runConfig(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError("config: the only subcommand is: config check")
	}
	fs, cfgPath := flags(e, "config check")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	g, err := gate.Open(gate.Options{ConfigPath: *cfgPath})
	if err != nil {
		return err
	}
	defer g.Close()
	s := g.Snapshot()
	fmt.Fprintf(e.stdout, "# effective configuration of %s\n", s.Config.Path)
	fmt.Fprintf(e.stdout, "# whitelist: %d entries in force; trusted proxies: %d\n", s.Policy.Whitelist.Len(), s.Policy.TrustedProxies.Len())
	if err := s.Config.Encode(bufio.NewWriter(e.stdout)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if s.Sessions != nil {
		if err := s.Sessions.Ping(ctx); err != nil {
			printWarnings(e, s.Warnings, nil)
			return fmt.Errorf("session store: %w", err)
		}
		fmt.Fprintln(e.stdout, "# session store: connected; session and user tables readable")
	}
	rep, err := preflight.Check(ctx, preflight.Options{
		Config: s.Config, Sessions: s.Sessions, InstalledKeys: preflight.InstalledKeys(s.Config.Path),
	})
	if err != nil {
		printWarnings(e, s.Warnings, nil)
		return err
	}
	printWarnings(e, s.Warnings, rep)
	for _, n := range rep.Notes {
		fmt.Fprintf(e.stdout, "# %s\n", n)
	}
	if len(rep.Problems) > 0 {
		problems := make([]string, len(rep.Problems))
		for i, p := range rep.Problems {
			problems[i] = p.String()
		}
		return &config.Error{Problems: problems}
	}
	fmt.Fprintln(e.stdout, "# configuration OK")
	return nil
}

// printWarnings prints what the load skipped, and what preflight warns
// of; a whitelist entry the map would skip is one of rep's problems, and
// its warning is not printed twice.
func printWarnings(e *env, loaded []string, rep *preflight.Report) {
	skipped := map[string]bool{}
	if rep != nil {
		for _, p := range rep.Problems {
			if p.Skipped != "" {
				skipped[p.Skipped] = true
			}
		}
	}
	for _, w := range loaded {
		if !skipped[w] {
			warnf(e, "%s", w)
		}
	}
	if rep != nil {
		for _, w := range rep.Warnings {
			warnf(e, "%s", w)
		}
	}
}
