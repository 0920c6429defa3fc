package panel

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// TestDjangoSessionSignIn: sessions made by a real Django. An active
// superuser operates the panel; staff, plain users, an inactive
// superuser, an expired session, a changed password are refused with
// 403, also when the gate's own [session] allow lets staff through.
func TestDjangoSessionSignIn(t *testing.T) {
	dir := t.TempDir()
	db, secretFile := filepath.Join(dir, "db.sqlite3"), filepath.Join(dir, "secret_key")
	secret := "panel-test-secret-" + strconv.Itoa(os.Getpid())
	write(t, secretFile, secret+"\n")
	s := testsvc.MakeSessions(t, "sqlite:"+db, secret, "old-"+secret)
	p := newTestPanel(t, "[session]\nstore = \"django\"\ndatabase = "+strconv.Quote("sqlite:"+db)+
		"\nsecret_key_file = "+strconv.Quote(secretFile)+"\nallow = [\"staff\"]\n")
	// The same files, with django sign-in.
	cfg, err := os.ReadFile(p.cfgPath)
	must(t, err)
	write(t, p.cfgPath, strings.Replace(string(cfg), `auth = ["htpasswd"]`, `auth = ["django", "htpasswd"]`, 1))
	p.start(t)

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
