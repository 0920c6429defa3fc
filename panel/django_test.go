package panel

import (
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// TestDjangoSessionSignIn: sessions made by a real Django. An active
// superuser operates the panel; staff, plain users, an inactive
// superuser, an expired session, a changed password are refused with
// 403, also when the gate's own [session] allow lets staff through.
func TestDjangoSessionSignIn(t *testing.T) {
	p, s, _, _ := djangoPanel(t, "allow = [\"staff\"]\n")

	cookie := func(name string) string {
		c, ok := s.Cases[name]
		if !ok {
			t.Fatalf("mksessions made no %q session", name)
		}
		return "Cookie: sessionid=" + c.Cookie
	}
	r := p.do(t, "GET", "/api/status", "", "", "", cookie("superuser"))
	wantCode(t, r, http.StatusOK, "superuser session")
	r = p.do(t, "POST", "/api/on", "", "", `{"message":"by django"}`, cookie("superuser"))
	wantCode(t, r, http.StatusOK, "on by a superuser session")
	if !strings.Contains(p.read(t, "audit.log"), `"who":"admin"`) {
		t.Errorf("audit log: %s", p.read(t, "audit.log"))
	}
	for _, c := range []string{"staff", "plain", "inactive", "expired", "password_changed", "anonymous", "deleted_user"} {
		r := p.do(t, "POST", "/api/off", "", "", `{}`, cookie(c))
		wantCode(t, r, http.StatusForbidden, c+" session")
		r = p.do(t, "GET", "/", "", "", "", cookie(c))
		wantCode(t, r, http.StatusForbidden, c+" session, page")
	}
	if p.read(t, "maintenance") == "" {
		t.Fatal("a refused session switched maintenance off")
	}
	// Without any credentials the page links to the Django admin's login,
	// coming back to the panel; no Basic challenge would be answerable by
	// a Django user, but htpasswd is on here too.
	r = p.do(t, "GET", "/", "", "", "")
	wantCode(t, r, http.StatusUnauthorized, "no session")
	if !strings.Contains(r.body, `href="/admin/login/?next=%2Fmaintgate%2F"`) {
		t.Errorf("sign-in page lacks the admin login link:\n%s", r.body)
	}
}

// TestDjangoSessionDatabaseLocked: a superuser session while the session
// database is locked (a migration) is no refusal. With htpasswd on, the
// answer is 401 with the Basic challenge, so the operator can fall back
// to it; with django alone, 503 saying what failed. Never 403.
func TestDjangoSessionDatabaseLocked(t *testing.T) {
	p, s, db, withBasic := djangoPanel(t, "")

	// What a migration's write transaction holds in rollback-journal mode.
	lock, err := sql.Open("sqlite", db)
	must(t, err)
	lock.SetMaxOpenConns(1)
	t.Cleanup(func() { lock.Exec("ROLLBACK"); lock.Close() })
	// The panel's checker may be reading at this moment: retry a while.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err = lock.Exec("BEGIN EXCLUSIVE"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, err)

	cookie := "Cookie: sessionid=" + s.Cases["superuser"].Cookie
	r := p.do(t, "GET", "/api/status", "", "", "", cookie)
	wantCode(t, r, http.StatusUnauthorized, "superuser session, database locked, htpasswd on")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") || !strings.Contains(r.body, "database locked") || !strings.Contains(r.body, "HTTP Basic") {
		t.Errorf("answer: %v\n%s", r.header, r.body)
	}
	r = p.do(t, "GET", "/", "", "", "", cookie)
	wantCode(t, r, http.StatusUnauthorized, "page, database locked, htpasswd on")
	if !strings.Contains(r.body, "database locked") {
		t.Errorf("page:\n%s", r.body)
	}
	// Basic still signs in, with the cookie sent along.
	wantCode(t, p.do(t, "GET", "/api/status", "alice", "alice-pw", "", cookie), http.StatusOK, "Basic during the lock")

	write(t, p.cfgPath, strings.Replace(withBasic, `auth = ["django", "htpasswd"]`, `auth = ["django"]`, 1))
	p.start(t)
	r = p.do(t, "GET", "/api/status", "", "", "", cookie)
	wantCode(t, r, http.StatusServiceUnavailable, "superuser session, database locked, django alone")
	if r.header.Get("WWW-Authenticate") != "" || !strings.Contains(r.body, "database locked") {
		t.Errorf("answer: %v\n%s", r.header, r.body)
	}
	r = p.do(t, "GET", "/", "", "", "", cookie)
	wantCode(t, r, http.StatusServiceUnavailable, "page, database locked, django alone")
	if !strings.Contains(r.body, "Sign-in unavailable") {
		t.Errorf("page:\n%s", r.body)
	}
	// A refusal stays a refusal: a cookie that is no session key is
	// refused without asking the database.
	wantCode(t, p.do(t, "GET", "/api/status", "", "", "", "Cookie: sessionid=no.such.key!"), http.StatusForbidden, "not a session key")
}

// djangoPanel starts a panel signing in by Django session (and htpasswd)
// against sessions a real Django made in SQLite; session is more of the
// [session] table. It returns the panel, the sessions, the database file
// and the config as written, for a test that rewrites it.
func djangoPanel(t *testing.T, session string) (*testPanel, testsvc.Sessions, string, string) {
	t.Helper()
	dir := t.TempDir()
	db, secretFile := filepath.Join(dir, "db.sqlite3"), filepath.Join(dir, "secret_key")
	secret := "panel-test-secret-" + strconv.Itoa(os.Getpid())
	write(t, secretFile, secret+"\n")
	s := testsvc.MakeSessions(t, "sqlite:"+db, secret, "old-"+secret)
	p := newTestPanel(t, "[session]\nstore = \"django\"\ndatabase = "+strconv.Quote("sqlite:"+db)+
		"\nsecret_key_file = "+strconv.Quote(secretFile)+"\n"+session)
	cfg, err := os.ReadFile(p.cfgPath)
	must(t, err)
	withBasic := strings.Replace(string(cfg), `auth = ["htpasswd"]`, `auth = ["django", "htpasswd"]`, 1)
	write(t, p.cfgPath, withBasic)
	p.start(t)
	return p, s, db, withBasic
}
