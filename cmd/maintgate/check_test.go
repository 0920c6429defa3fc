package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeProc is a proc directory holding one process per command line
// given (arguments separated by NULs, as /proc/PID/cmdline has them), so
// that what status and check say about the map does not depend on the
// maps other tests run on this host.
func fakeProc(t *testing.T, cmdlines map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for pid, cl := range cmdlines {
		if err := os.MkdirAll(filepath.Join(dir, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "cmdline"), []byte(cl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runIn runs the command in process with proc as the proc directory and
// returns its exit status, stdout and stderr.
func runIn(proc string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, proc: proc}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// TestCheckSaysNoMapRuns: check's "allow" is what the rules say; while no
// map process runs, Apache redirects every gated request of a site in
// maintenance, and check says so as status does (issue 11). Before, check
// said "allow: … in the whitelist" and nothing else. A map started as
// `maintgate -config X map` counts as running (before, only
// `maintgate map …` did).
func TestCheckSaysNoMapRuns(t *testing.T) {
	cfg := mapConfig(t)
	none := fakeProc(t, map[string]string{"1": "/sbin/init\x00", "77": "/usr/bin/maintgate\x00status\x00"})
	leading := fakeProc(t, map[string]string{"4242": "/usr/local/bin/maintgate\x00-config\x00" + cfg + "\x00map\x00"})
	after := fakeProc(t, map[string]string{"4243": "/usr/local/bin/maintgate\x00map\x00-config\x00" + cfg + "\x00"})
	const warning = "maintgate: warning: no maintgate map process is running on this host: if Apache runs here, every gated request of a site in maintenance is redirected, admins included (this one too, whatever the answer above)"
	check := []string{"check", "-config", cfg, "--ip", "10.1.2.3", "--path", "/de/map/"}

	// Maintenance off: Apache does not ask the map; nothing to say.
	if code, out, errs := runIn(none, check...); code != 0 || !strings.HasPrefix(out, "allow: maintenance is not active") || errs != "" {
		t.Errorf("off, no map: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runIn(none, "on", "-config", cfg, "--allow", "10.1.2.3"); code != 0 {
		t.Fatalf("on: exit %d: %s", code, errs)
	}
	code, out, errs := runIn(none, check...)
	if code != 0 || !strings.HasPrefix(out, "allow: client 10.1.2.3 is allowed for this maintenance window") || !strings.HasPrefix(errs, warning) {
		t.Errorf("on, no map: exit %d\nstdout: %sstderr: %s\nwant on stderr: %s", code, out, errs, warning)
	}
	code, out, errs = runIn(none, "status", "-config", cfg)
	if !strings.Contains(out, "  warning: no maintgate map process is running on this host") {
		t.Errorf("status, on, no map: exit %d\n%s%s", code, out, errs)
	}
	// A redirect is what Apache does anyway.
	if code, _, errs := runIn(none, "check", "-config", cfg, "--ip", "203.0.113.7", "--path", "/"); code != 1 || errs != "" {
		t.Errorf("redirect, no map: exit %d, stderr %q", code, errs)
	}
	for name, proc := range map[string]string{"-config before map": leading, "-config after map": after} {
		if code, out, errs := runIn(proc, check...); code != 0 || !strings.HasPrefix(out, "allow: ") || errs != "" {
			t.Errorf("%s: check: exit %d\n%s%s", name, code, out, errs)
		}
		if _, out, _ := runIn(proc, "status", "-config", cfg); !strings.Contains(out, "  map:     running (pid 424") || strings.Contains(out, "no maintgate map") {
			t.Errorf("%s: status:\n%s", name, out)
		}
	}
}

// TestCheckOutputWithSessions: with a session store and log.level =
// "debug", check prints its answer and where the session verdict came
// from on stdout, and no log line anywhere (issue 11). Before, every
// lookup added a DEBUG JSON line to the output, and a cookie that is no
// session key, never looked up, was said to come "from the database".
func TestCheckOutputWithSessions(t *testing.T) {
	db := newDjangoDB(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "maintgate.toml")
	err := os.WriteFile(cfg, []byte(`flag_file = "maintenance"
state_map = "state.map"
allow_admin_during_maintenance = true
[log]
level = "debug"
[session]
store = "django"
database = "sqlite:`+db.path+`"
secret_key_file = "`+db.secretFile+`"
lookup_timeout = "5s"
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "maintenance"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	su := db.fx.Cases["superuser"]
	for _, c := range []struct {
		cookie, want string
		code         int
	}{
		{"sessionid=" + su.Cookie, "allow: session of user id " + su.UserID + ": active superuser (session.allow)\n  session verdict from the database\n", 0},
		{"sessionid=abc", "redirect: maintenance is active and no rule lets client 203.0.113.7 reach /de/map/ (session: not a session key)\n  session verdict without a query: the cookie is not a session key\n", 1},
	} {
		cmd := exec.Command(binary(t), "check", "-config", cfg, "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", c.cookie)
		cmd.Env = childEnv()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		// The map warning (no map runs for this config) is the only line
		// stderr may hold.
		errs := strings.ReplaceAll(stderr.String(), "maintgate: warning: "+noMapWarning(" (this one too, whatever the answer above)")+"\n", "")
		if code != c.code || stdout.String() != c.want || errs != "" {
			t.Errorf("check --cookie %.20s…: exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", c.cookie, code, c.code, stdout.String(), c.want, stderr.String())
		}
	}
}
