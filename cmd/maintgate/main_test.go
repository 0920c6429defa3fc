package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary the maintgate command too (age's way):
// run as "maintgate" it is main itself, with the real run function; so
// the scripts and the tests below run the real command, without a build
// step, and coverage counts it. The built binary is kept for what only it
// can show (Apache starting it: tests/).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"maintgate": main})
}

// TestScripts runs testdata/*.txtar: an operator's commands and what they
// print, with the files they need inline. Each script's work directory
// holds maintgate.toml, named by MAINTGATE_CONFIG.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("MAINTGATE_CONFIG", filepath.Join(e.WorkDir, "maintgate.toml"))
			e.Setenv("TZ", "UTC")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": exitCode,
		},
	})
}

// exitCode runs "exitcode N PROGRAM ARGS..." and fails unless PROGRAM
// exits with status N; its output is kept for stdout and stderr.
// testscript's own "! exec" tells zero from non-zero only, and the exit
// status is part of the contract (check: 1 redirect; 2 usage error).
func exitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// binary is the maintgate command testscript.Main put on PATH, for the
// tests that drive a process themselves (signals, timing).
func binary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("maintgate")
	if err != nil {
		t.Fatalf("maintgate is not on PATH (testscript.Main puts it there): %v", err)
	}
	return p
}
