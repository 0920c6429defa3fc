package main

import (
	"context"
	"errors"
)

// runSetup writes a configuration from an application's own settings
// (issue 13). Stub until it lands.
func runSetup(ctx context.Context, e *env, args []string) error {
	return errors.New("setup: not built yet")
}
