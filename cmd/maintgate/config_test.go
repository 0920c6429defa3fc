package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// The keys the real Django signs the fixture's sessions with; the scripts
// in testdata/configkey write them into key files, right and wrong.
const (
	configKeySecret    = "django-insecure-k3y!for@maintgate(config)check^0123456789abcd"
	configKeyOldSecret = "django-insecure-rotated-away-0123456789abcdefghijklmnopqrst"
)

// TestConfigCheckDjangoKey runs testdata/configkey/*.txtar: config check
// against sessions a real Django made in SQLite (app.sqlite3 in each
// script's work directory), with the key file right, wrong, and copied
// with its quotes.
func TestConfigCheckDjangoKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "app.sqlite3")
	testsvc.MakeSessions(t, "sqlite:"+db, configKeySecret, configKeyOldSecret)
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/configkey",
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("MAINTGATE_CONFIG", filepath.Join(e.WorkDir, "maintgate.toml"))
			return os.WriteFile(filepath.Join(e.WorkDir, "app.sqlite3"), data, 0o600)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": exitCode,
		},
	})
}
