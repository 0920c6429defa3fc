package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin without the host's tzdata

	"github.com/rs/zerolog"
)

// logTo is an Options.Logger writing to w.
func logTo(w *logBuffer, level zerolog.Level) func() *zerolog.Logger {
	l := zerolog.New(w).Level(level)
	return func() *zerolog.Logger { return &l }
}

// client returns a distinct client address (its own /64) for n.
func client(n int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(n >> 8), byte(n)})
}

// fakeStore is an in-memory django_session + auth_user with knobs for
// slowness, failure and panics, counting its queries.
type fakeStore struct {
	mu       sync.Mutex
	sessions map[string]fakeSession
	users    map[string]userRow
	members  map[string][]string // user id -> the groups they are in
	allowed  []string            // the groups allow names (the real query's IN list)

	queries      atomic.Int64
	groupQueries atomic.Int64
	gate         chan struct{} // when set, every query waits for it to close
	err          error         // when set, every query fails with it
	panics       bool
}

type fakeSession struct {
	data    string
	expires time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{sessions: map[string]fakeSession{}, users: map[string]userRow{}, members: map[string][]string{}}
}

func (f *fakeStore) wait(ctx context.Context) error {
	f.queries.Add(1)
	f.mu.Lock()
	gate, err, panics := f.gate, f.err, f.panics
	f.mu.Unlock()
	if panics {
		panic("fake store panics")
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeStore) session(ctx context.Context, key string) (string, time.Time, error) {
	if err := f.wait(ctx); err != nil {
		return "", time.Time{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[key]
	if !ok {
		return "", time.Time{}, errNotFound
	}
	return s.data, s.expires, nil
}

func (f *fakeStore) user(ctx context.Context, id string) (userRow, error) {
	if err := f.wait(ctx); err != nil {
		return userRow{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return userRow{}, errNotFound
	}
	return u, nil
}

func (f *fakeStore) username(ctx context.Context, id string) (string, error) {
	if _, err := f.user(ctx, id); err != nil {
		return "", err
	}
	return "user" + id, nil
}

func (f *fakeStore) userByName(ctx context.Context, name string) (userRow, error) {
	if err := f.wait(ctx); err != nil {
		return userRow{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.ID == strings.TrimPrefix(name, "user") {
			return u, nil
		}
	}
	return userRow{}, errNotFound
}

func (f *fakeStore) groups(ctx context.Context, userID string) ([]string, error) {
	f.groupQueries.Add(1)
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, g := range f.members[userID] {
		if slices.Contains(f.allowed, g) {
			names = append(names, g)
		}
	}
	return names, nil
}

func (f *fakeStore) ping(ctx context.Context, sessionTable bool) error { return f.wait(ctx) }
func (f *fakeStore) close() error                                      { return nil }

func (f *fakeStore) setGate(g chan struct{}) { f.mu.Lock(); f.gate = g; f.mu.Unlock() }
func (f *fakeStore) setErr(err error)        { f.mu.Lock(); f.err = err; f.mu.Unlock() }

var testSecret = []byte("test-secret-key")

// addUser adds a user whose password hash is derived from id and version,
// so bumping version is a password change.
func (f *fakeStore) addUser(id string, active, superuser bool, version int) userRow {
	u := userRow{ID: id, Password: fmt.Sprintf("pbkdf2_sha256$1$salt%s$v%d", id, version), Active: active, Superuser: superuser}
	f.mu.Lock()
	f.users[id] = u
	f.mu.Unlock()
	return u
}

// login stores a session for user u under key, made as Django 3.2 makes
// it, and returns key.
func (f *fakeStore) login(key string, u userRow, expires time.Time, secret []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[key] = fakeSession{data: sessionFor(u, secret), expires: expires}
	return key
}

func sessionFor(u userRow, secret []byte) string {
	d := map[string]string{
		"_auth_user_id":      u.ID,
		"_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
		"_auth_user_hash":    SessionAuthHash(u.Password, secret),
	}
	js, _ := json.Marshal(d)
	return sign("."+b64zlib(js), SessionSalt, secret, time.Now())
}

// signedCookie is a signed_cookies session of u, as Django makes it.
func signedCookie(u userRow, secret []byte, at time.Time) string {
	js, _ := json.Marshal(map[string]string{"_auth_user_id": u.ID, "_auth_user_backend": "x",
		"_auth_user_hash": SessionAuthHash(u.Password, secret)})
	return sign("."+b64zlib(js), SignedCookiesSalt, secret, at)
}

// logBuffer collects log lines from the background lookups too.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String waits for c's background lookups, then returns the log.
func (l *logBuffer) String(c *Checker) string {
	c.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// clock is a settable time for Checker.now.
type clock struct{ t atomic.Int64 }

func newClock() *clock               { c := &clock{}; c.t.Store(time.Now().UnixNano()); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }

func testChecker(t testing.TB, f *fakeStore, o Options) (*Checker, *clock) {
	t.Helper()
	if o.Secrets == nil {
		o.Secrets = [][]byte{testSecret}
	}
	if o.MissRate == 0 {
		o.MissRate = 1e6
	}
	o.setDefaults()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.allowed = newRules(o.Allow).Groups
	f.mu.Unlock()
	c := newChecker(o, f)
	clk := newClock()
	c.now = clk.now
	t.Cleanup(func() { c.Close() })
	return c, clk
}

func key(n int) string { return fmt.Sprintf("k%031d", n) }

func TestCheckVerdicts(t *testing.T) {
	f := newFakeStore()
	future := time.Now().Add(time.Hour)
	admin := f.addUser("1", true, true, 0)
	staff := f.addUser("2", true, false, 0)
	inactive := f.addUser("3", false, true, 0)
	changed := f.addUser("4", true, true, 0)
	gone := userRow{ID: "5", Password: "x"}
	f.login("superuser1", admin, future, testSecret)
	f.login("staffonly", staff, future, testSecret)
	f.login("inactive", inactive, future, testSecret)
	f.login("pwchanged", changed, future, testSecret)
	f.addUser("4", true, true, 1)
	f.login("deleteduser", gone, future, testSecret)
	f.login("expired1", admin, time.Now().Add(-time.Second), testSecret)
	f.login("otherkey", admin, future, []byte("another-secret"))
	f.sessions["anonymous"] = fakeSession{data: sign(b64([]byte(`{"cart":[1]}`)), SessionSalt, testSecret, time.Now()), expires: future}
	f.sessions["nohash00"] = fakeSession{data: sign(b64([]byte(`{"_auth_user_id":"1","_auth_user_backend":"b"}`)), SessionSalt, testSecret, time.Now()), expires: future}
	f.sessions["nobackend"] = fakeSession{data: sign(b64([]byte(`{"_auth_user_id":"1","_auth_user_hash":"`+SessionAuthHash(admin.Password, testSecret)+`"}`)), SessionSalt, testSecret, time.Now()), expires: future}
	f.sessions["garbage1"] = fakeSession{data: "not base64 at all!", expires: future}

	verified, _ := testChecker(t, f, Options{})
	trusting, _ := testChecker(t, f, Options{Secrets: [][]byte{}})
	trusting.secrets = nil

	for _, tc := range []struct {
		cookie          string
		want, wantTrust string
		user, userTrust string
	}{
		{"superuser1", ReasonSuperuser, ReasonSuperuser, "1", "1"},
		{"staffonly", ReasonNotSuperuser, ReasonNotSuperuser, "2", "2"},
		{"inactive", ReasonInactive, ReasonInactive, "3", "3"},
		{"pwchanged", ReasonHashMismatch, ReasonSuperuser, "4", "4"},
		{"deleteduser", ReasonNoUser, ReasonNoUser, "5", "5"},
		{"expired1", ReasonExpired, ReasonExpired, "", ""},
		{"otherkey", ReasonBadSignature, ReasonSuperuser, "", "1"},
		{"anonymous", ReasonNotLoggedIn, ReasonNotLoggedIn, "", ""},
		{"nohash00", ReasonNoAuthHash, ReasonSuperuser, "1", "1"},
		{"nobackend", ReasonNotLoggedIn, ReasonNotLoggedIn, "", ""},
		{"garbage1", ReasonMalformed, ReasonMalformed, "", ""},
		{"nosuchkey", ReasonNoSession, ReasonNoSession, "", ""},
		{"", ReasonNoCookie, ReasonNoCookie, "", ""},
		{"short", ReasonNotKey, ReasonNotKey, "", ""},
		{"UPPERCASE-KEY", ReasonNotKey, ReasonNotKey, "", ""},
		{"abc'; DROP TABLE auth_user; --", ReasonNotKey, ReasonNotKey, "", ""},
	} {
		for _, c := range []struct {
			c          *Checker
			want, user string
		}{{verified, tc.want, tc.user}, {trusting, tc.wantTrust, tc.userTrust}} {
			trust := c.c.secrets == nil
			v := c.c.Check(testClient, tc.cookie)
			if v.Reason != c.want || v.Pass != (c.want == ReasonSuperuser) || v.Cached || v.UserID != c.user {
				t.Errorf("trust=%v Check(%q) = %+v, want reason %q, user %q", trust, tc.cookie, v, c.want, c.user)
			}
			v2 := c.c.Check(testClient, tc.cookie)
			if v2.Reason != v.Reason || v2.Pass != v.Pass || v2.UserID != v.UserID {
				t.Errorf("trust=%v second Check(%q) = %+v, first %+v", trust, tc.cookie, v2, v)
			}
			if cacheable := v.Reason != ReasonNoCookie && v.Reason != ReasonNotKey; v2.Cached != cacheable {
				t.Errorf("trust=%v second Check(%q).Cached = %v", trust, tc.cookie, v2.Cached)
			}
		}
	}
}

func TestFormatCheckMakesNoQuery(t *testing.T) {
	f := newFakeStore()
	c, _ := testChecker(t, f, Options{})
	for _, s := range []string{"", "x", "sessionid=abc", "ABCDEFGHIJKL", "abcdefgh\n", strings.Repeat("a", 41), "abcdefgh ", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"} {
		if v := c.Check(testClient, s); v.Pass || (v.Reason != ReasonNotKey && v.Reason != ReasonNoCookie) {
			t.Errorf("Check(%q) = %+v", s, v)
		}
	}
	if n := f.queries.Load(); n != 0 {
		t.Errorf("%d queries for cookies that cannot be session keys", n)
	}
}

func TestCacheHonoursSessionExpiry(t *testing.T) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	f.login("soonover", admin, time.Now().Add(5*time.Second), testSecret)
	c, clk := testChecker(t, f, Options{CacheTTL: time.Hour})
	if v := c.Check(testClient, "soonover"); !v.Pass {
		t.Fatalf("Check = %+v", v)
	}
	if v := c.Check(testClient, "soonover"); !v.Pass || !v.Cached {
		t.Fatalf("Check = %+v, want cached superuser", v)
	}
	// The session expires before the cache TTL: the cache must not
	// outlive it.
	clk.add(6 * time.Second)
	if v := c.Check(testClient, "soonover"); v.Pass || v.Cached || v.Reason != ReasonExpired {
		t.Fatalf("after expiry: Check = %+v, want a fresh %q", v, ReasonExpired)
	}
}

func TestNegativeTTL(t *testing.T) {
	f := newFakeStore()
	c, clk := testChecker(t, f, Options{NegativeTTL: 10 * time.Second})
	if v := c.Check(testClient, "notyetthere"); v.Reason != ReasonNoSession {
		t.Fatalf("Check = %+v", v)
	}
	admin := f.addUser("1", true, true, 0)
	f.login("notyetthere", admin, time.Now().Add(time.Hour), testSecret)
	if v := c.Check(testClient, "notyetthere"); v.Pass || !v.Cached {
		t.Fatalf("within negative_ttl: Check = %+v, want cached negative", v)
	}
	clk.add(11 * time.Second)
	if v := c.Check(testClient, "notyetthere"); !v.Pass || v.Cached {
		t.Fatalf("after negative_ttl: Check = %+v, want fresh superuser", v)
	}
}

func TestSlowLookupTimesOutAndFillsCache(t *testing.T) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	f.login("slowsession", admin, time.Now().Add(time.Hour), testSecret)
	gate := make(chan struct{})
	f.setGate(gate)
	c, _ := testChecker(t, f, Options{LookupTimeout: 30 * time.Millisecond})

	start := time.Now()
	v := c.Check(testClient, "slowsession")
	took := time.Since(start)
	if v.Reason != ReasonTimeout || v.Pass {
		t.Fatalf("Check = %+v, want %q", v, ReasonTimeout)
	}
	if took > 30*time.Millisecond+200*time.Millisecond {
		t.Errorf("Check took %v with lookup_timeout 30ms", took)
	}
	// Concurrent misses for the same cookie join the lookup in flight.
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Check(testClient, "slowsession") }()
	}
	wg.Wait()
	if n := c.lookups.Load(); n != 1 {
		t.Errorf("%d lookups for one cookie, want 1", n)
	}
	f.setGate(nil)
	close(gate) // the database answers; the lookup fills the cache
	deadline := time.Now().Add(5 * time.Second)
	for {
		v = c.Check(testClient, "slowsession")
		if v.Cached || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !v.Pass || !v.Cached {
		t.Fatalf("after the slow lookup completed: Check = %+v, want cached superuser", v)
	}
	if n := f.queries.Load(); n != 2 { // session + user
		t.Errorf("%d queries, want 2", n)
	}
}

func TestMissRateLimit(t *testing.T) {
	f := newFakeStore()
	c, clk := testChecker(t, f, Options{MissRate: 5})
	limited := 0
	for i := range 100 {
		if v := c.Check(client(i), key(i)); v.Reason == ReasonRateLimit {
			limited++
		} else if v.Reason != ReasonNoSession {
			t.Fatalf("Check = %+v", v)
		}
	}
	if c.lookups.Load() != 5 || limited != 95 {
		t.Errorf("burst: %d lookups, %d rate limited; want 5 and 95", c.lookups.Load(), limited)
	}
	clk.add(time.Second) // five more tokens
	for i := 100; i < 200; i++ {
		c.Check(client(i), key(i))
	}
	if n := c.lookups.Load(); n != 10 {
		t.Errorf("after 1s: %d lookups, want 10", n)
	}
	// Cached answers do not spend tokens.
	for i := range 5 {
		if v := c.Check(testClient, key(i)); !v.Cached {
			t.Errorf("Check(%s) = %+v, want cached", key(i), v)
		}
	}
}

func TestInFlightBound(t *testing.T) {
	f := newFakeStore()
	gate := make(chan struct{})
	f.setGate(gate)
	defer close(gate)
	c, _ := testChecker(t, f, Options{MaxConns: 2, LookupTimeout: 5 * time.Millisecond})
	busy := 0
	for i := range 100 {
		start := time.Now()
		v := c.Check(client(i), key(i))
		if d := time.Since(start); d > 5*time.Millisecond+200*time.Millisecond {
			t.Errorf("Check took %v", d)
		}
		if v.Reason == ReasonBusy {
			busy++
		}
	}
	if n := c.lookups.Load(); n != 8 || busy != 92 {
		t.Errorf("%d lookups started, %d answered busy; want 8 (4 × max_conns) and 92", n, busy)
	}
}

func TestDatabaseDownCostsNothingAfterFirstFailure(t *testing.T) {
	f := newFakeStore()
	f.setErr(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	var logs logBuffer
	c, clk := testChecker(t, f, Options{RetryInterval: time.Second, Logger: logTo(&logs, zerolog.InfoLevel)})
	v := c.Check(testClient, key(1))
	if v.Pass || !strings.HasPrefix(v.Reason, "database unreachable: ") {
		t.Fatalf("Check = %+v", v)
	}
	for i := 2; i < 1000; i++ {
		if v := c.Check(testClient, key(i)); !strings.HasPrefix(v.Reason, "database unreachable") || v.Cached {
			t.Fatalf("Check = %+v", v)
		}
	}
	if n := f.queries.Load(); n != 1 {
		t.Errorf("%d queries while the database is known down, want 1", n)
	}
	if out := logs.String(c); strings.Count(out, `"level":"error"`) != 1 {
		t.Errorf("want 1 error line:\n%s", out)
	}
	// After the pause, the first miss is a probe that nobody waits for;
	// it finds the database back, closes the breaker and fills the cache.
	clk.add(1100 * time.Millisecond)
	f.setErr(nil)
	if v := c.Check(testClient, key(1)); !strings.HasPrefix(v.Reason, "database unreachable: ") {
		t.Fatalf("the probe after the retry interval: Check = %+v, want the failure at once", v)
	}
	c.wg.Wait()
	if v := c.Check(testClient, key(1)); v.Reason != ReasonNoSession || !v.Cached {
		t.Fatalf("after the probe: Check = %+v, want its cached answer", v)
	}
	// For negative_ttl after the failure, misses query in the background
	// without waiting; then they wait again.
	if v := c.Check(testClient, key(2)); v.Reason != ReasonPending {
		t.Fatalf("soon after the outage: Check = %+v, want %q", v, ReasonPending)
	}
	c.wg.Wait()
	clk.add(10 * time.Second)
	if v := c.Check(testClient, key(3)); v.Reason != ReasonNoSession || v.Cached {
		t.Fatalf("negative_ttl after the outage: Check = %+v, want a fresh %q", v, ReasonNoSession)
	}
}

func TestDatabaseErrorIsNotUnreachable(t *testing.T) {
	f := newFakeStore()
	f.setErr(errors.New(`ERROR: relation "django_session" does not exist (SQLSTATE 42P01)`))
	c, _ := testChecker(t, f, Options{})
	for i := range 3 {
		if v := c.Check(testClient, key(i)); !strings.HasPrefix(v.Reason, "database error: ") || !strings.Contains(v.Reason, "does not exist") {
			t.Fatalf("Check = %+v", v)
		}
	}
	c.wg.Wait() // the second and third lookups ran in the background
	if n := f.queries.Load(); n != 3 {
		t.Errorf("%d queries, want 3: errors are not cached", n)
	}
}

func TestPanicInLookupIsAnAnswer(t *testing.T) {
	f := newFakeStore()
	f.panics = true
	c, _ := testChecker(t, f, Options{})
	if v := c.Check(testClient, key(1)); v.Pass || !strings.HasPrefix(v.Reason, "database error") {
		t.Fatalf("Check = %+v", v)
	}
}

func TestCloseStopsBackgroundLookups(t *testing.T) {
	f := newFakeStore()
	gate := make(chan struct{})
	f.setGate(gate)
	defer close(gate)
	c, _ := testChecker(t, f, Options{LookupTimeout: time.Millisecond})
	for i := range 5 {
		c.Check(testClient, key(i))
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while lookups hung")
	}
	if v := c.Check(testClient, key(99)); v.Reason != ReasonClosed {
		t.Errorf("after Close: %+v", v)
	}
}

func TestSignedCookieStore(t *testing.T) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	staff := f.addUser("2", true, false, 0)
	c, clk := testChecker(t, f, Options{Store: StoreSignedCookies, SessionCookieAge: time.Hour})
	cookie := signedCookie
	now := clk.now()
	good := cookie(admin, testSecret, now)
	for _, tc := range []struct {
		cookie, want string
		queries      int64
	}{
		{good, ReasonSuperuser, 1},
		{cookie(staff, testSecret, now), ReasonNotSuperuser, 1},
		{cookie(admin, []byte("wrong"), now), ReasonBadSignature, 0},
		{cookie(admin, testSecret, now.Add(-2*time.Hour)), ReasonExpired, 0},
		{sign(b64([]byte(`{"_auth_user_id":"1","_auth_user_backend":"x","_auth_user_hash":"`+SessionAuthHash(admin.Password, testSecret)+`"}`)), SessionSalt, testSecret, now), ReasonBadSignature, 0},
		{"th4kvextmcfy17eewv37dbwxffnuufw3", ReasonNotKey, 0},
	} {
		before := f.queries.Load()
		if v := c.Check(testClient, tc.cookie); v.Reason != tc.want {
			t.Errorf("Check(%.20s…) = %+v, want %q", tc.cookie, v, tc.want)
		}
		if n := f.queries.Load() - before; n != tc.queries {
			t.Errorf("Check(%.20s…): %d queries, want %d", tc.cookie, n, tc.queries)
		}
	}
	// The positive cache entry ends when the cookie reaches its age.
	clk.add(61 * time.Minute)
	if v := c.Check(testClient, good); v.Pass || v.Reason != ReasonExpired {
		t.Errorf("after SESSION_COOKIE_AGE: %+v", v)
	}
}

func TestLogsNeverHoldCookies(t *testing.T) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	f.login("secretcookievalue1", admin, time.Now().Add(time.Hour), testSecret)
	f.login("secretcookievalue2", f.addUser("2", true, false, 0), time.Now().Add(time.Hour), testSecret)
	var logs logBuffer
	c, _ := testChecker(t, f, Options{Logger: logTo(&logs, zerolog.DebugLevel)})
	c.Check(testClient, "secretcookievalue1")
	c.Check(testClient, "secretcookievalue2")
	c.Check(testClient, "secretcookievalue3")
	f.setErr(errors.New("boom"))
	c.Check(testClient, "secretcookievalue4")
	out := logs.String(c)
	if strings.Contains(out, "secretcookie") || strings.Contains(out, string(testSecret)) {
		t.Errorf("a cookie or secret in the log:\n%s", out)
	}
	for _, want := range []string{`"user_id":"2"`, `"reason":"user is not a superuser"`, `"reason":"no such session"`, `"level":"error"`, `"key":"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestOpenValidates(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Database: "sqlite:/x", SessionTable: "django_session; DROP TABLE x"}, "session_table"},
		{Options{Database: "sqlite:/x", UserTable: `auth"user`}, "user_table"},
		{Options{Database: "sqlite:/x", UserTable: "a.b.c"}, "user_table"},
		{Options{Database: "sqlite:/x", UsernameColumn: "name)"}, "username column"},
		{Options{Database: "sqlite:/x", Store: StoreSignedCookies}, "secret key"},
		{Options{Database: "sqlite:/x", Store: "redis"}, `store "redis"`},
		{Options{Database: "redis://x"}, `scheme "redis"`},
		{Options{Database: ""}, "no database URL"},
		{Options{Database: "mysql://u:pw@h:3306/"}, "no database"},
		{Options{Database: "mysql://u:pw@h:3306/db?foo=1"}, `unknown mysql parameter "foo"`},
		{Options{Database: "postgres://u:hunter2@[::1/db"}, "database URL"},
		{Options{Database: "sqlite:/x", LookupTimeout: -1}, "lookup_timeout"},
		{Options{Database: "sqlite:/x", Secrets: [][]byte{[]byte("a"), {}}}, "secret key 2 is empty"},
	} {
		c, err := Open(context.Background(), tc.o)
		if err == nil {
			c.Close()
			t.Errorf("Open(%+v) = nil error, want %q", tc.o, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v) = %v, want %q", tc.o, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestQueryText(t *testing.T) {
	o := Options{SessionTable: "app.sessions", UserTable: "accounts_user", UsernameColumn: "email"}
	o.setDefaults()
	for _, tc := range []struct {
		d                 dialect
		session, byName   string
		pingSession, user string
	}{
		{dialectPostgres,
			`SELECT "session_data", "expire_date" FROM "app"."sessions" WHERE "session_key" = $1`,
			`SELECT "id", "password", "is_active", "is_superuser" FROM "accounts_user" WHERE "email" = $1`,
			`SELECT "session_key", "session_data", "expire_date" FROM "app"."sessions" LIMIT 1`,
			`SELECT "id", "password", "is_active", "is_superuser" FROM "accounts_user" WHERE "id" = $1`},
		{dialectSQLite,
			`SELECT "session_data", "expire_date" FROM "app"."sessions" WHERE "session_key" = ?`,
			`SELECT "id", "password", "is_active", "is_superuser" FROM "accounts_user" WHERE "email" = ?`,
			`SELECT "session_key", "session_data", "expire_date" FROM "app"."sessions" LIMIT 1`,
			`SELECT "id", "password", "is_active", "is_superuser" FROM "accounts_user" WHERE "id" = ?`},
		{dialectMySQL,
			"SELECT `session_data`, `expire_date` FROM `app`.`sessions` WHERE `session_key` = ?",
			"SELECT `id`, `password`, `is_active`, `is_superuser` FROM `accounts_user` WHERE `email` = ?",
			"SELECT `session_key`, `session_data`, `expire_date` FROM `app`.`sessions` LIMIT 1",
			"SELECT `id`, `password`, `is_active`, `is_superuser` FROM `accounts_user` WHERE `id` = ?"},
	} {
		q, err := buildQueries(tc.d, &o)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range [][2]string{{q.session, tc.session}, {q.userByName, tc.byName}, {q.probes[0].q, tc.pingSession}, {q.user, tc.user}} {
			if c[0] != c[1] {
				t.Errorf("%s:\n got %s\nwant %s", tc.d.name, c[0], c[1])
			}
		}
	}
}

func TestDatabaseURLs(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:/var/lib/app/db.sqlite3":   "file:/var/lib/app/db.sqlite3?_busy_timeout=2000&_query_only=1&mode=ro",
		"sqlite:///var/lib/app/db.sqlite3": "file:/var/lib/app/db.sqlite3?_busy_timeout=2000&_query_only=1&mode=ro",
		"sqlite:rel/db?x#y":                "file:rel/db%3Fx%23y?_busy_timeout=2000&_query_only=1&mode=ro",
		"file:/srv/a%20b.db?mode=rw":       "file:/srv/a%20b.db?_busy_timeout=2000&_query_only=1&mode=ro",
		"file:///srv/db":                   "file:/srv/db?_busy_timeout=2000&_query_only=1&mode=ro",
	} {
		got, err := sqliteDSN(in)
		if err != nil || got != want {
			t.Errorf("sqliteDSN(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"sqlite:", "sqlite://host/db", "file://host/db"} {
		if got, err := sqliteDSN(bad); err == nil {
			t.Errorf("sqliteDSN(%q) = %q, want error", bad, got)
		}
	}
	cfg, err := mysqlConfig("mysql://app:p%40ss@db.example:3307/shop?tls=skip-verify")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "app" || cfg.Passwd != "p@ss" || cfg.Addr != "db.example:3307" || cfg.DBName != "shop" ||
		cfg.TLSConfig != "skip-verify" || !cfg.ParseTime || cfg.Loc != time.UTC {
		t.Errorf("mysqlConfig = %+v", cfg)
	}
	cfg, err = mysqlConfig("mysql://app@/shop?socket=/run/mysqld/mysqld.sock")
	if err != nil || cfg.Net != "unix" || cfg.Addr != "/run/mysqld/mysqld.sock" {
		t.Errorf("mysqlConfig socket = %+v, %v", cfg, err)
	}
	if cfg, err = mysqlConfig("mysql://app@db/shop"); err != nil || cfg.Addr != "db:3306" {
		t.Errorf("mysqlConfig default port = %+v, %v", cfg, err)
	}
}

func TestToTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin") // time/tzdata is linked in below
	if err != nil {
		t.Fatal(err)
	}
	utc := &sqlStore{d: dialectMySQL, loc: time.UTC}
	local := &sqlStore{d: dialectSQLite, loc: berlin}
	pg := &sqlStore{d: dialectPostgres, loc: berlin}
	want := time.Date(2026, 12, 8, 23, 5, 31, 772302000, time.UTC)
	for _, tc := range []struct {
		s    *sqlStore
		in   any
		want time.Time
	}{
		{utc, "2026-12-08 23:05:31.772302", want},
		{utc, []byte("2026-12-08 23:05:31.772302"), want},
		{utc, time.Date(2026, 12, 8, 23, 5, 31, 772302000, time.UTC), want},
		{utc, "2026-12-09 00:05:31.772302+01:00", want},
		{local, "2026-12-09 00:05:31.772302", want},
		{local, time.Date(2026, 12, 9, 0, 5, 31, 772302000, time.UTC), want},
		{pg, want.In(berlin), want},
	} {
		got, err := tc.s.toTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%s toTime(%v) = %v, %v; want %v", tc.s.d.name, tc.in, got, err, tc.want)
		}
	}
	if _, err := utc.toTime("yesterday"); err == nil {
		t.Error("toTime(yesterday): no error")
	}
}

func TestCheckPassword(t *testing.T) {
	f := newFakeStore()
	f.users["1"] = userRow{ID: "1", Password: makePassword("pw1", "salt", 1000), Active: true, Superuser: true}
	f.users["2"] = userRow{ID: "2", Password: makePassword("pw2", "salt", 1000), Active: true}
	f.users["3"] = userRow{ID: "3", Password: makePassword("pw3", "salt", 1000), Superuser: true}
	f.users["4"] = userRow{ID: "4", Password: "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA", Active: true, Superuser: true}
	c, _ := testChecker(t, f, Options{})
	for _, tc := range []struct{ user, pw, want string }{
		{"user1", "pw1", ReasonSuperuser},
		{"user1", "pw2", ReasonWrongPassword},
		{"user2", "pw2", ReasonNotSuperuser},
		{"user3", "pw3", ReasonInactive},
		{"user4", "x", `password hash algorithm not supported (maintgate verifies pbkdf2_sha256 and pbkdf2_sha1): "argon2"`},
		{"user9", "x", ReasonNoUser},
		{"", "x", ReasonNoUser},
	} {
		v, err := c.CheckPassword(context.Background(), tc.user, tc.pw)
		if err != nil || v.Reason != tc.want || v.Pass != (tc.want == ReasonSuperuser) {
			t.Errorf("CheckPassword(%q, %q) = %+v, %v; want %q", tc.user, tc.pw, v, err, tc.want)
		}
	}
	f.setErr(errors.New("boom"))
	if v, err := c.CheckPassword(context.Background(), "user1", "pw1"); err == nil || v.Pass {
		t.Errorf("database failing: %+v, %v", v, err)
	}
}
