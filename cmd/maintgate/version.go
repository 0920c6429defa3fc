package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

// runVersion prints the version. It takes -config like every command (and
// ignores it), and refuses stray arguments like every command.
func runVersion(ctx context.Context, e *env, args []string) error {
	fs, _ := flags(e, "version")
	if err := parse(fs, args); err != nil {
		return err
	}
	v := version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	fmt.Fprintf(e.stdout, "maintgate %s %s\n", v, runtime.Version())
	return nil
}
