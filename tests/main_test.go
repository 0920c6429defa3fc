// Package tests drives the built maintgate binary the way Apache and an
// operator do: key lines on stdin of `maintgate map`, the on/off/status/check
// commands, and a real Apache httpd in front of a real backend.
package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// maintgate is the path of the binary built once for all tests.
var maintgate string

// repoRoot is the module root, for apache-conf/ and testdata.
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "maintgate-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	maintgate = filepath.Join(dir, "maintgate")
	// Built as `make build` builds what users install: static, without cgo
	// (which also starts sooner: the checker is exec'd per request).
	args := []string{"build", "-trimpath", "-o", maintgate}
	cgo := "CGO_ENABLED=0"
	if os.Getenv("MAINTGATE_RACE") != "" {
		args, cgo = append(args, "-race"), "CGO_ENABLED=1"
	}
	cmd := exec.Command("go", append(args, "./cmd/maintgate")...)
	cmd.Env = append(os.Environ(), cgo)
	cmd.Dir = repoRoot
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building maintgate:", err)
		return 1
	}
	return m.Run()
}

// requireTool fails the test when CI=true and the tool is missing (CI must
// never pass by skipping), and skips it otherwise.
func requireTool(t testing.TB, path, what string) {
	t.Helper()
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	// Under CI this fails the test; elsewhere it skips (testsvc.Missing).
	testsvc.Missing(t, fmt.Sprintf("%s (%s); make test installs it", what, path))
}
