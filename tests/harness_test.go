package tests

// The one way these tests run maintgate's commands, and the one source of
// the test Apache's configuration (shared with scripts/demo.sh).

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mg runs the built maintgate with the configuration file cfg and returns
// what it printed on stdout; the test fails unless it exits with wantCode.
// cfg reaches it as $MAINTGATE_CONFIG, every command's default, so args are
// passed exactly as an operator types them (no -config to slot in after a
// subcommand).
func mg(t testing.TB, cfg string, wantCode int, args ...string) string {
	t.Helper()
	cmd := exec.Command(maintgate, args...)
	cmd.Env = append(os.Environ(), "MAINTGATE_CONFIG="+cfg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("maintgate %s: %v", strings.Join(args, " "), err)
	}
	if code != wantCode {
		t.Fatalf("maintgate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// httpdTemplate is the test Apache's configuration, with NAME placeholders
// between @ signs; scripts/demo.sh renders the same file.
const httpdTemplate = "tests/testdata/httpd.conf.in"

var httpdPlaceholder = regexp.MustCompile(`@([A-Z_]+)@`)

// renderHTTPDConf fills the template's placeholders from vars (REPO is
// added); a placeholder without a value fails the test, as it fails the
// demo.
func renderHTTPDConf(t testing.TB, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, httpdTemplate))
	apMust(t, err)
	var missing []string
	out := httpdPlaceholder.ReplaceAllStringFunc(string(b), func(m string) string {
		name := m[1 : len(m)-1]
		if name == "REPO" {
			return repoRoot
		}
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		t.Fatalf("%s: no value for %s", httpdTemplate, strings.Join(missing, ", "))
	}
	return out
}
