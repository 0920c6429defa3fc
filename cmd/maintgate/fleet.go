package main

import (
	"context"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
)

// fleet.go: the command line's side of the fleet (issue 14). Stubs until
// the fleet lands: no Remote, no mirror, no status lines.

// fleetRemote returns the fleet's store for on and off: nil when [fleet]
// redis is empty, or when local asks for this host only. done releases it.
func fleetRemote(ctx context.Context, e *env, cfg *config.Config, local bool) (control.Remote, func(), error) {
	return nil, func() {}, nil
}
