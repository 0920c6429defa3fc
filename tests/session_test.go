package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// sessionSite is a site whose superusers come from sessions a real Django
// made in a SQLite database.
func sessionSite(t *testing.T) (*site, testsvc.Sessions) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "django.db")
	const secret, old = "maintgate-e2e-secret-key-0123456789abcdefghijklmnop", "maintgate-e2e-old-key-0123456789"
	fx := testsvc.MakeSessions(t, "sqlite:"+db, secret, old)
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte(secret+"\n"+old+"\n"), 0o600)
	s := newSite(t, "")
	s.writeConfig(t, `[session]
store = "django"
database = "sqlite:`+db+`"
secret_key_file = "`+filepath.Join(dir, "secret.key")+`"`)
	return s, fx
}

// TestSessionSuperuserThroughMap: the original document's test 3, through
// the map: a superuser's session cookie passes, a staff member's does not.
func TestSessionSuperuserThroughMap(t *testing.T) {
	s, fx := sessionSite(t)
	s.on(t)
	m := startMap(t, s)
	line := func(cookie string) string {
		return "203.0.113.7 /de/map/  csrftoken=abc;%20sessionid=" + cookie
	}
	want := map[string]string{
		"superuser":        "allow",
		"oldkey_superuser": "allow", // signed with the fallback key
		"legacy_superuser": "allow", // pre-3.1 format
		"staff":            "redirect",
		"inactive":         "redirect",
		"expired":          "redirect",
		"password_changed": "redirect",
		"anonymous":        "redirect",
	}
	for name, ans := range want {
		c, ok := fx.Cases[name]
		if !ok {
			t.Fatalf("fixture has no case %q", name)
		}
		// Twice: the second answer comes from the cache and must agree.
		for i := 0; i < 2; i++ {
			if got := m.ask(line(c.Cookie)); got != ans {
				t.Errorf("%s (ask %d): %s, want %s", name, i+1, got, ans)
			}
		}
	}
	// A cookie that cannot be a session key is refused without a query,
	// and the answers stay in order.
	for _, junk := range []string{"x", strings.Repeat("z", 200), "../../etc/passwd", "%00"} {
		if got := m.ask(line(junk)); got != "redirect" {
			t.Errorf("junk cookie %q: %s", junk, got)
		}
	}
	if !s.logHas(t, map[string]string{"level": "debug", "reason": "allowed session", "user_id": fx.Cases["superuser"].UserID}) {
		s.waitLog(t, "allowed session")
		if !s.logHas(t, map[string]string{"level": "debug", "reason": "allowed session", "user_id": fx.Cases["superuser"].UserID}) {
			t.Errorf("superuser allow not logged with the user id:\n%s", s.logText(t))
		}
	}
	for _, c := range fx.Cases {
		if strings.Contains(s.logText(t), c.Cookie) {
			t.Fatalf("a session cookie reached the log")
		}
	}
}

func TestSessionCheckCommand(t *testing.T) {
	s, fx := sessionSite(t)
	s.on(t)
	out := mg(t, s.config, 0, "check", "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", "sessionid="+fx.Cases["superuser"].Cookie)
	if !strings.Contains(out, "allow: session of user id "+fx.Cases["superuser"].UserID+": active superuser (session.allow)") ||
		!strings.Contains(out, "session verdict from the database") {
		t.Errorf("check superuser:\n%s", out)
	}
	out = mg(t, s.config, 1, "check", "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", "sessionid="+fx.Cases["staff"].Cookie)
	if !strings.Contains(out, "redirect:") || !strings.Contains(out, "not a superuser") {
		t.Errorf("check staff:\n%s", out)
	}
	out = mg(t, s.config, 0, "config", "check")
	if !strings.Contains(out, "session store: connected") {
		t.Errorf("config check:\n%s", out)
	}
}

// TestSessionDatabaseGone: the session database vanishing costs redirects
// for sessions, never answers or order; whitelisted lines are unaffected.
func TestSessionDatabaseGone(t *testing.T) {
	s, fx := sessionSite(t)
	s.on(t)
	m := startMap(t, s)
	su := "203.0.113.7 /de/map/  sessionid=" + fx.Cases["superuser"].Cookie
	if got := m.ask(su); got != "allow" {
		t.Fatalf("superuser: %s", got)
	}
	db := strings.TrimPrefix(strings.Split(strings.Split(readFile(t, s.config), "database = \"")[1], "\"")[0], "sqlite:")
	os.Rename(db, db+".gone")
	start := time.Now()
	for i := 0; i < 200; i++ {
		if got := m.ask("203.0.113.7 /de/map/  sessionid=neverseen" + strings.Repeat("a", 10) + string(rune('a'+i%26)) + string(rune('a'+i/26))); got != "redirect" {
			t.Fatalf("unknown session with the database gone: %s", got)
		}
		if got := m.ask("192.168.1.100 /de/map/  "); got != "allow" {
			t.Fatalf("whitelisted line with the database gone: %s", got)
		}
	}
	if got := m.ask(su); got != "allow" {
		t.Errorf("cached superuser with the database gone: %s", got)
	}
	t.Logf("400 lines with the database gone in %s", time.Since(start))
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
