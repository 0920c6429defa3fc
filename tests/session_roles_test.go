package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// rolesSite is a site whose sessions come from a real Django (SQLite),
// with a negative cache long enough that only emptying the cache on a
// reload can turn a "no" into a "yes" within the test.
type rolesSite struct {
	*site
	fx        testsvc.Sessions
	db, field string
}

func newRolesSite(t *testing.T) *rolesSite {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "django.db")
	const secret = "maintgate-roles-secret-key-0123456789abcdefghijklmnop"
	fx := testsvc.MakeSessions(t, "sqlite:"+db, secret, "maintgate-roles-old-key-0123456789")
	key := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(key, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &rolesSite{site: newSite(t, ""), fx: fx, db: db,
		field: "[session]\nstore = \"django\"\ndatabase = \"sqlite:" + db + "\"\nsecret_key_file = \"" + key + "\"\nnegative_ttl = \"5m\"\n"}
	r.allow(t, "")
	return r
}

// allow rewrites the config with this allow line ("" for the default).
func (r *rolesSite) allow(t *testing.T, line string) {
	t.Helper()
	r.writeConfig(t, r.field+line)
}

// waitLogHas waits up to two seconds for a log line with these fields
// (the map writes its log after the answer).
func (r *rolesSite) waitLogHas(t *testing.T, fields map[string]string) bool {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r.logHas(t, fields) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func (r *rolesSite) line(name string) string {
	return "203.0.113.7 /de/map/  csrftoken=abc;%20sessionid=" + r.fx.Cases[name].Cookie
}

// TestSessionAllowRulesThroughMap: staff, any active user and a group's
// members pass exactly when [session] allow says so, and a reload that
// changes allow is obeyed at once, though the old answers are cached.
func TestSessionAllowRulesThroughMap(t *testing.T) {
	r := newRolesSite(t)
	r.on(t)
	m := startMap(t, r.site)
	expect := func(step string, want map[string]string) {
		t.Helper()
		for name, ans := range want {
			for i := 1; i <= 2; i++ { // the second answer from the cache
				if got := m.ask(r.line(name)); got != ans {
					t.Errorf("%s: %s (ask %d): %s, want %s", step, name, i, got, ans)
				}
			}
		}
	}
	expect("default allow", map[string]string{
		"superuser": "allow", "staff": "redirect", "plain": "redirect", "qa": "redirect", "inactive": "redirect",
	})

	r.allow(t, `allow = ["staff", "group:qa"]`)
	m.until(r.line("qa"), "allow", 3*time.Second)
	expect(`allow = ["staff", "group:qa"]`, map[string]string{
		"superuser": "allow", // admin is staff too
		"staff":     "allow", "qa": "allow",
		"plain": "redirect", "other_group": "redirect", "inactive": "redirect", "password_changed": "redirect",
	})
	// The rule that let each one through, in the map's debug log.
	for name, rule := range map[string]string{"qa": "member of group qa", "staff": "active staff", "superuser": "active staff"} {
		if !r.waitLogHas(t, map[string]string{"level": "debug", "detail": rule, "user_id": r.fx.Cases[name].UserID}) {
			t.Errorf("%s: %q not logged:\n%s", name, rule, r.logText(t))
		}
	}

	r.allow(t, `allow = ["active"]`)
	m.until(r.line("plain"), "allow", 3*time.Second)
	expect(`allow = ["active"]`, map[string]string{
		"plain": "allow", "other_group": "allow", "qa": "allow",
		"inactive": "redirect", "anonymous": "redirect", "expired": "redirect",
	})

	r.allow(t, "")
	m.until(r.line("plain"), "redirect", 3*time.Second)
	expect("default allow again", map[string]string{"superuser": "allow", "staff": "redirect", "qa": "redirect"})
}

// TestSessionAllowCheckCommand: `maintgate check` lets a group member
// through under group:qa and no one else, with the reason.
func TestSessionAllowCheckCommand(t *testing.T) {
	r := newRolesSite(t)
	r.allow(t, `allow = ["group:qa"]`)
	r.on(t)
	check := func(name string, code int) string {
		t.Helper()
		return mg(t, r.config, code, "check", "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", "sessionid="+r.fx.Cases[name].Cookie)
	}
	if out := check("qa", 0); !strings.HasPrefix(out, "allow: ") {
		t.Errorf("check qa:\n%s", out)
	}
	for _, name := range []string{"superuser", "plain", "other_group"} {
		if out := check(name, 1); !strings.Contains(out, "session: user matches no allow rule (allow = group:qa)") {
			t.Errorf("check %s:\n%s", name, out)
		}
	}
	if out := check("inactive", 1); !strings.Contains(out, "session: user is inactive") {
		t.Errorf("check inactive:\n%s", out)
	}
}

// TestSessionAllowConfigCheck: a rule that is not one is refused by name;
// a good list is printed back, with the group tables it reads.
func TestSessionAllowConfigCheck(t *testing.T) {
	r := newRolesSite(t)
	r.allow(t, `allow = ["staff", "groups:qa", "group:"]
group_table = "auth group"`)
	cmd := exec.Command(maintgate, "config", "check")
	cmd.Env = append(os.Environ(), "MAINTGATE_CONFIG="+r.config)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil {
		t.Fatalf("config check accepted bad allow rules:\n%s", out.String())
	}
	for _, want := range []string{
		`session.allow[1]: "groups:qa" is not a rule: want "superuser", "staff", "active" or "group:NAME"`,
		`session.allow[2]: "group:": names no group (group:NAME)`,
		`session.group_table: "auth group" is not a table name`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, out.String())
		}
	}

	r.allow(t, `allow = ["superuser", "group:qa"]`)
	got := mg(t, r.config, 0, "config", "check")
	for _, want := range []string{`allow = ["superuser", "group:qa"]`, `group_table = "auth_group"`, `user_groups_table = "auth_user_groups"`, "session store: connected"} {
		if !strings.Contains(got, want) {
			t.Errorf("config check lacks %q:\n%s", want, got)
		}
	}
}
