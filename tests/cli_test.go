package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestCLI runs the scripts in testdata/script: an operator's commands and
// what they print, with the files they need inline (age's style).
func TestCLI(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", filepath.Dir(maintgate)+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv("MAINTGATE_CONFIG", filepath.Join(e.WorkDir, "maintgate.toml"))
			e.Setenv("TZ", "UTC")
			return nil
		},
	})
}
