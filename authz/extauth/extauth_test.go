package extauth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/lockout"
)

func TestReadRequest(t *testing.T) {
	env := map[string]string{"AUTHTYPE": "PASS", "IP": "203.0.113.7", "URI": "/staff/x", "COOKIE": "a=b", "USER": "root"}
	r := ReadRequest(func(k string) string { return env[k] }, strings.NewReader("admin\r\nsecret\n"))
	if r.User != "admin" || r.Password != "secret" || r.IP != "203.0.113.7" || r.URI != "/staff/x" || r.Cookie != "a=b" {
		t.Errorf("pipe method: %+v", r)
	}
	// The environment method: USER and PASS; stdin is not read.
	env["PASS"] = "pw"
	r = ReadRequest(func(k string) string { return env[k] }, strings.NewReader("admin\nsecret\n"))
	if r.User != "root" || r.Password != "pw" {
		t.Errorf("environment method: %+v", r)
	}
	// An endless first line is cut, not waited for.
	delete(env, "PASS")
	r = ReadRequest(func(k string) string { return env[k] }, strings.NewReader(strings.Repeat("x", 1<<20)))
	if len(r.User) > 8192 || r.Password != "" {
		t.Errorf("endless line: user of %d bytes, password %q", len(r.User), r.Password)
	}
}

// checker denies every request by the map's rules and verifies one
// password, "right", for the superuser "admin"; password() counts calls.
type checker struct {
	Checker
	log   bytes.Buffer
	calls int
	dbErr error
}

func newChecker(t *testing.T) *checker {
	c := &checker{}
	lg := zerolog.New(&c.log)
	c.Checker = Checker{
		// Every site is down but "blog".
		Decide: func(site string, r authz.Request) authz.Decision {
			return authz.Decision{Allow: r.Path == "/open/" || site == "blog", Reason: authz.Redirected, Client: r.Peer}
		},
		Password: func(ctx context.Context, user, password string) (authz.Verdict, error) {
			c.calls++
			if c.dbErr != nil {
				return authz.Verdict{}, c.dbErr
			}
			if user == "admin" && password == "right" {
				return authz.Verdict{Pass: true, UserID: "1"}, nil
			}
			return authz.Verdict{Reason: "wrong password"}, nil
		},
		Failures: lockout.New(filepath.Join(t.TempDir(), "authz")),
		Log:      &lg,
		Now:      time.Now,
	}
	return c
}

func (c *checker) allow(t *testing.T, r Request) bool {
	t.Helper()
	c.log.Reset()
	ok := c.Allow(context.Background(), r)
	if n := strings.Count(c.log.String(), "\n"); n != 1 {
		t.Errorf("%+v logged %d lines, want 1:\n%s", r, n, c.log.String())
	}
	if r.Password != "" && strings.Contains(c.log.String(), r.Password) {
		t.Errorf("password logged: %s", c.log.String())
	}
	return ok
}

func TestAllow(t *testing.T) {
	c := newChecker(t)
	req := func(ip, path, user, pw string) Request {
		return Request{AuthType: "PASS", IP: ip, URI: path, User: user, Password: pw}
	}
	if c.allow(t, Request{AuthType: "GROUP", IP: "203.0.113.7", URI: "/open/"}) {
		t.Error("group check allowed")
	}
	for _, ip := range []string{"", "203.0.113", "fe80::1%eth0"} {
		if c.allow(t, req(ip, "/open/", "", "")) {
			t.Errorf("IP %q allowed", ip)
		}
	}
	if ok := c.allow(t, req("::ffff:203.0.113.7", "/open/", "admin", "guess-0")); !ok || c.calls != 0 {
		t.Errorf("what the map allows: allowed %v, passwords verified %d", ok, c.calls)
	}
	if _, err := os.Stat(c.Failures.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failure record made without a password check: %v", err)
	}
	if !c.allow(t, req("203.0.113.7", "/staff/", "admin", "right")) {
		t.Error("superuser credentials refused")
	}
	if c.allow(t, req("203.0.113.7", "/staff/", "admin", "")) {
		t.Error("empty password allowed")
	}
	// A database that does not answer tests no password: not counted.
	c.dbErr = errors.New("session database: locked")
	for range 10 {
		if c.allow(t, req("203.0.113.7", "/staff/", "admin", "x")) {
			t.Error("allowed with the database down")
		}
	}
	c.dbErr, c.calls = nil, 0
	for range 5 {
		c.allow(t, req("203.0.113.7", "/staff/", "admin", "guess-1"))
	}
	if c.allow(t, req("198.51.100.1", "/staff/", "admin", "right")) || c.calls != 5 {
		t.Errorf("after 5 failures: %d passwords verified, want 5, and the right one refused", c.calls)
	}
	if !strings.Contains(c.log.String(), `"level":"warn"`) {
		t.Errorf("lockout not logged as a warning: %s", c.log.String())
	}
	// Password sign-in off: credentials are not looked at.
	c.Password = nil
	if c.allow(t, req("203.0.113.7", "/staff/", "other", "right")) {
		t.Error("allowed with password sign-in off")
	}
}

func TestRecordDir(t *testing.T) {
	if got := RecordDir("/var/lib/maintgate/maintenance"); got != "/var/lib/maintgate/authz" {
		t.Errorf("RecordDir = %q", got)
	}
}

// TestSiteFromContext: the vhost's site arrives as CONTEXT and the
// decision is that site's: shop down while blog is up must not let a
// request to shop through as blog's (or default's) would be.
func TestSiteFromContext(t *testing.T) {
	env := map[string]string{"AUTHTYPE": "PASS", "IP": "203.0.113.7", "URI": "/staff/", "CONTEXT": "shop", "USER": "x", "PASS": "y"}
	r := ReadRequest(func(k string) string { return env[k] }, nil)
	if r.Site != "shop" {
		t.Fatalf("CONTEXT read as site %q", r.Site)
	}
	c := newChecker(t)
	if c.allow(t, r) {
		t.Errorf("shop is down: allowed")
	}
	r.Site = "blog"
	if !c.allow(t, r) {
		t.Errorf("blog is up: denied")
	}
}
