package main

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz/extauth"
	"github.com/maintgate/maintgate/authz/lockout"
	"github.com/maintgate/maintgate/internal/testsvc"
)

// djangoDB is a SQLite database a real Django made, with its users and
// sessions, and the secret key that signed them.
type djangoDB struct {
	path, secretFile string
	fx               testsvc.Sessions
}

func newDjangoDB(t *testing.T) *djangoDB {
	t.Helper()
	dir := t.TempDir()
	const secret = "maintgate-authz-secret-key-0123456789abcdefghijklmnop"
	d := &djangoDB{path: filepath.Join(dir, "django.db"), secretFile: filepath.Join(dir, "secret.key")}
	d.fx = testsvc.MakeSessions(t, "sqlite:"+d.path, secret, "old-"+secret)
	if err := os.WriteFile(d.secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// authzSite is a configuration whose superusers come from db, with
// maintenance on and a failure record of its own.
type authzSite struct {
	cfg, records string
	fx           testsvc.Sessions
}

func newAuthzSite(t *testing.T, db *djangoDB) *authzSite {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`flag_file = "state/maintenance"
state_map = "state/state.map"
allow_admin_during_maintenance = true
[session]
store = "django"
database = "sqlite:%s"
secret_key_file = %q
# A checker process opens the database cold; under -race on a loaded
# machine that can outlast the default 100ms, and these tests are about
# the failure record, not the lookup budget.
lookup_timeout = "5s"
`, db.path, db.secretFile)
	if err := os.WriteFile(filepath.Join(dir, "maintgate.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &authzSite{cfg: filepath.Join(dir, "maintgate.toml"), fx: db.fx,
		records: extauth.RecordDir(filepath.Join(dir, "state/maintenance"))}
	if out, err := exec.Command(binary(t), "on", "-config", s.cfg).CombinedOutput(); err != nil {
		t.Fatalf("maintgate on: %v\n%s", err, out)
	}
	return s
}

// attempt is one `maintgate authz` process, as mod_authnz_external's pipe
// method runs it for a request to /staff/x.
type attempt struct {
	code   int
	took   time.Duration
	stderr string
}

func (s *authzSite) authz(t *testing.T, ip, user, password string) attempt {
	t.Helper()
	cmd := exec.Command(binary(t), "authz", "-config", s.cfg)
	cmd.Env = childEnv("AUTHTYPE=PASS", "IP="+ip, "URI=/staff/x", "COOKIE=csrftoken=x")
	cmd.Stdin = strings.NewReader(user + "\n" + password + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	a := attempt{took: time.Since(start), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		a.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	if strings.Contains(a.stderr, password) {
		t.Errorf("the password reached the log:\n%s", a.stderr)
	}
	return a
}

func (a attempt) want(t *testing.T, code int, log, what string) {
	t.Helper()
	if a.code != code || !strings.Contains(a.stderr, log) {
		t.Errorf("%s: exit %d, want %d with a log line holding %q; log:\n%s", what, a.code, code, log, a.stderr)
	}
}

const (
	logRefused = `"message":"authz: credentials refused"`
	logLocked  = `"user":"admin","ip":"%s","path":"/staff/x","detail":"5 failed passwords for this user name within 15m0s; refused unverified until`
)

// TestAuthzLockout: password guesses through `maintgate authz` processes
// are limited (issue 8), against a real Django's users.
func TestAuthzLockout(t *testing.T) {
	db := newDjangoDB(t)
	t.Run("SixthWrongPasswordRefusedUnverified", func(t *testing.T) { testSixthRefused(t, newAuthzSite(t, db)) })
	t.Run("ParallelGuessesCounted", func(t *testing.T) { testParallel(t, newAuthzSite(t, db)) })
	t.Run("RecordUnusableFailsClosed", func(t *testing.T) { testRecordUnusable(t, newAuthzSite(t, db)) })
	t.Run("CheckAndConfigWithSessions", func(t *testing.T) { testCheckWithSessions(t, newAuthzSite(t, db)) })
}

// testCheckWithSessions: check and config check with a session store,
// which only a real database shows: where the session verdict came from,
// and that the store answers.
func testCheckWithSessions(t *testing.T, s *authzSite) {
	mg := func(code int, args ...string) string {
		t.Helper()
		cmd := exec.Command(binary(t), append(args, "-config", s.cfg)...)
		cmd.Env = childEnv()
		out, err := cmd.CombinedOutput()
		got := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != code {
			t.Errorf("maintgate %s: exit status %d, want %d\n%s", strings.Join(args, " "), got, code, out)
		}
		return string(out)
	}
	su := s.fx.Cases["superuser"]
	out := mg(0, "check", "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", "csrftoken=x; sessionid="+su.Cookie)
	for _, want := range []string{"allow: session of user id " + su.UserID + ": active superuser (session.allow)", "session verdict from the database"} {
		if !strings.Contains(out, want) {
			t.Errorf("check with a superuser session: no %q in\n%s", want, out)
		}
	}
	out = mg(1, "check", "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", "sessionid="+s.fx.Cases["staff"].Cookie)
	if !strings.HasPrefix(out, "redirect: ") || !strings.Contains(out, "not a superuser") {
		t.Errorf("check with a staff session:\n%s", out)
	}
	if out = mg(0, "config", "check"); !strings.Contains(out, "# session store: connected; session and user tables readable") {
		t.Errorf("config check:\n%s", out)
	}
}

// childEnv is the environment of a maintgate process started by a test:
// PATH, and GOCOVERDIR so that `go test -cover` counts the process.
func childEnv(kv ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	if d := os.Getenv("GOCOVERDIR"); d != "" {
		env = append(env, "GOCOVERDIR="+d)
	}
	return append(env, kv...)
}

// testSixthRefused: the sixth wrong password for a user name within 15
// minutes is refused without the PBKDF2 work, and so is the right one,
// until the window has passed. Before the lockout every guess cost the
// full derivation and a right password after any number of wrong ones
// passed.
func testSixthRefused(t *testing.T, s *authzSite) {
	pw := s.fx.Users["admin"].Password
	s.authz(t, "203.0.113.7", "admin", pw).want(t, 0, "", "right password")

	var wrong, refused []time.Duration
	for i := range 5 {
		a := s.authz(t, "203.0.113.7", "admin", "wrong-"+strconv.Itoa(i))
		a.want(t, 1, logRefused, fmt.Sprintf("wrong password %d", i+1))
		wrong = append(wrong, a.took)
	}
	a := s.authz(t, "203.0.113.7", "admin", "wrong-5")
	a.want(t, 1, fmt.Sprintf(logLocked, "203.0.113.7"), "sixth wrong password")
	a.want(t, 1, `"level":"warn"`, "sixth wrong password")
	refused = append(refused, a.took)
	if n := strings.Count(a.stderr, "\n"); n != 1 {
		t.Errorf("a refused attempt logs %d lines, want 1:\n%s", n, a.stderr)
	}
	// From another address too: the user name is locked.
	a = s.authz(t, "198.51.100.20", "admin", pw)
	a.want(t, 1, fmt.Sprintf(logLocked, "198.51.100.20"), "right password after the lockout")
	refused = append(refused, a.took)
	a = s.authz(t, "203.0.113.7", "admin", pw)
	a.want(t, 1, "refused without checking the password", "right password after the lockout, same address")
	refused = append(refused, a.took)

	// The cost a refusal saves, measured here: one derivation of this hash.
	pbkdf2 := derivationTime(t, pw, s.fx.Users["admin"].Hash)
	mw, mr := median(wrong), median(refused)
	t.Logf("PBKDF2 %v; authz process with a wrong password: median %v, refused by the lockout: median %v", pbkdf2.Round(time.Millisecond), mw.Round(time.Millisecond), mr.Round(time.Millisecond))
	if mw-mr < pbkdf2/2 {
		t.Errorf("a refused attempt took %v, a verified wrong one %v: the refusal did not save the PBKDF2 work (%v)", mr, mw, pbkdf2)
	}

	// Fifteen minutes later the right password passes again.
	age(t, s.records, 15*time.Minute)
	s.authz(t, "203.0.113.7", "admin", pw).want(t, 0, "", "right password after the window")
}

// testParallel: guesses sent at once are counted before any is verified,
// across processes: ten at once get five verifications.
func testParallel(t *testing.T, s *authzSite) {
	var wg sync.WaitGroup
	runs := make([]attempt, 10)
	for i := range runs {
		wg.Go(func() { runs[i] = s.authz(t, "203.0.113.7", "admin", "guess-"+strconv.Itoa(i)) })
	}
	wg.Wait()
	verified, locked := 0, 0
	for _, a := range runs {
		if a.code != 1 {
			t.Errorf("a guess passed: %+v", a)
		}
		switch {
		case strings.Contains(a.stderr, logRefused):
			verified++
		case strings.Contains(a.stderr, "refused without checking"):
			locked++
		}
	}
	if verified != 5 || locked != 5 {
		t.Errorf("%d guesses verified and %d refused unverified, want 5 and 5", verified, locked)
	}
}

// testRecordUnusable: when the failure record cannot be written, a
// password is not verified at all (fail closed) and the log says what to
// fix; the other ways in still work.
func testRecordUnusable(t *testing.T, s *authzSite) {
	if err := os.WriteFile(s.records, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := s.authz(t, "203.0.113.7", "admin", s.fx.Users["admin"].Password)
	a.want(t, 1, `"level":"error"`, "right password, record unusable")
	a.want(t, 1, "the failure record is unusable; make "+s.records+" a directory writable by the user Apache runs the checker as", "right password, record unusable")
	cmd := exec.Command(binary(t), "authz", "-config", s.cfg)
	cmd.Env = childEnv("AUTHTYPE=PASS", "IP=203.0.113.7", "URI=/staff/x", "COOKIE=sessionid="+s.fx.Cases["superuser"].Cookie)
	cmd.Stdin = strings.NewReader("admin\nwrong\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("superuser session cookie with the record unusable: %v\n%s", err, out)
	}
}

// age moves every failure in the record in dir back by d, as if d had
// passed.
func age(t *testing.T, dir string, d time.Duration) {
	t.Helper()
	name := filepath.Join(dir, lockout.FileName)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for line := range strings.Lines(string(b)) {
		at, rest, _ := strings.Cut(line, " ")
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil {
			t.Fatalf("record line %q: %v", line, err)
		}
		fmt.Fprintf(&out, "%d %s", n-int64(d), rest)
	}
	if err := os.WriteFile(name, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// derivationTime is how long one PBKDF2 derivation of password with the
// work factor and salt of hash (Django's pbkdf2_sha256$N$SALT$HASH) takes.
func derivationTime(t *testing.T, password, hash string) time.Duration {
	f := strings.Split(hash, "$")
	n, err := strconv.Atoi(f[1])
	if len(f) != 4 || f[0] != "pbkdf2_sha256" || err != nil {
		t.Fatalf("fixture hash %q is not pbkdf2_sha256", hash)
	}
	start := time.Now()
	if _, err := pbkdf2.Key(sha256.New, password, []byte(f[2]), n, sha256.Size); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
