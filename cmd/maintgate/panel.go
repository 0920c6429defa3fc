package main

import (
	"context"
	"errors"
)

// runPanel serves the web control panel (issue 12). Stub until it lands.
func runPanel(ctx context.Context, e *env, args []string) error {
	return errors.New("panel: not built yet")
}
