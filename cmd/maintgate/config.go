package main

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/maintgate/maintgate/gate"
)

// runConfig validates the configuration as `map` would load it, prints
// every warning, the effective configuration, and whether the session
// database answers.
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
	for _, w := range s.Warnings {
		warnf(e, "%s", w)
	}
	fmt.Fprintf(e.stdout, "# effective configuration of %s\n", s.Config.Path)
	fmt.Fprintf(e.stdout, "# whitelist: %d entries in force; trusted proxies: %d\n", s.Policy.Whitelist.Len(), s.Policy.TrustedProxies.Len())
	if err := s.Config.Encode(bufio.NewWriter(e.stdout)); err != nil {
		return err
	}
	if s.Sessions != nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.Sessions.Ping(pctx); err != nil {
			return fmt.Errorf("session store: %w", err)
		}
		fmt.Fprintln(e.stdout, "# session store: connected; session and user tables readable")
	}
	fmt.Fprintln(e.stdout, "# configuration OK")
	return nil
}
