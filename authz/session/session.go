// Package session answers one question for maintgate's decision: does
// this Django session cookie belong to an active superuser?
//
// It reads the application's own Django data, with no change to the
// application: the django_session and auth_user tables of its database
// (PostgreSQL, SQLite or MySQL/MariaDB), or, for Django's signed_cookies
// session backend, the cookie itself and auth_user. It checks what Django
// checks: the session exists and has not expired, its signature and its
// _auth_user_hash are valid under SECRET_KEY or a fallback key (so a
// password change ends every older session), and the user exists, is
// active and is a superuser.
//
// Check runs on the path every request of the whole Apache server waits
// on, so it never blocks longer than Options.LookupTimeout: answers are
// cached (positive and negative apart), a cookie that cannot be a session
// key makes no query, concurrent misses for one cookie make one lookup,
// misses beyond Options.MissRate per second and beyond a small number of
// lookups in flight are answered "not a superuser" without a query, and a
// database that is down is noticed once and then costs nothing for
// Options.RetryInterval. A lookup that outlives LookupTimeout carries on
// in the background (up to Options.QueryTimeout) and fills the cache.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unique"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
)

// Verdict is the decision's view of a session (authz.Verdict); its Reason
// is one of the Reason constants below, or "database …: …".
type Verdict = authz.Verdict

// Reasons of a Verdict. Database failures read "database unreachable: …"
// or "database error: …" with the error after the colon.
const (
	ReasonSuperuser     = "active superuser"
	ReasonNoCookie      = "no session cookie"
	ReasonNotKey        = "not a session key"
	ReasonNoSession     = "no such session"
	ReasonExpired       = "session expired"
	ReasonBadSignature  = "bad signature"
	ReasonMalformed     = "malformed session data"
	ReasonNotJSON       = "session data is not JSON"
	ReasonNotLoggedIn   = "not logged in"
	ReasonNoAuthHash    = "no _auth_user_hash in session"
	ReasonHashMismatch  = "password changed since login"
	ReasonNoUser        = "no such user"
	ReasonInactive      = "user is inactive"
	ReasonNotSuperuser  = "user is not a superuser"
	ReasonWrongPassword = "wrong password"
	ReasonTimeout       = "lookup timed out"
	ReasonRateLimit     = "miss rate limit"
	ReasonBusy          = "too many lookups in flight"
	ReasonClosed        = "session checker closed"

	reasonUnreachable = "database unreachable: "
	reasonDBError     = "database error: "
)

// Store names.
const (
	StoreDjango        = "django"                // database sessions (db, cached_db)
	StoreSignedCookies = "django-signed-cookies" // the cookie is the session
)

// Options configure a Checker. Zero values take the defaults shown.
type Options struct {
	Store    string // StoreDjango (default) or StoreSignedCookies
	Database string // postgres://…, postgresql://…, sqlite:/path, sqlite:///abs/path, file:/path, mysql://user:pass@host:port/db

	// Secrets are SECRET_KEY first, then SECRET_KEY_FALLBACKS (see
	// LoadSecrets). Every one is tried for signatures and _auth_user_hash.
	// Empty: trust the database, verify nothing (the caller warns); not
	// allowed with StoreSignedCookies, where the cookie is the session.
	Secrets [][]byte

	SessionTable   string // "django_session"
	UserTable      string // "auth_user" (a custom user model's table, same columns)
	UsernameColumn string // "username", for CheckPassword

	CacheSize     int           // 10000 entries (positive and negative caches each)
	CacheTTL      time.Duration // 60s, for positive answers (never past the session's own expiry)
	NegativeTTL   time.Duration // 10s, for negative answers
	LookupTimeout time.Duration // 100ms: the longest Check waits
	QueryTimeout  time.Duration // 5s: the longest a background lookup runs
	RetryInterval time.Duration // 1s: after the database failed, misses make no query for this long
	MissRate      float64       // 50 lookups a second (token bucket, burst the same); beyond it a miss is answered without a query
	MaxConns      int           // 4 database connections

	// SessionCookieAge is Django's SESSION_COOKIE_AGE: signed_cookies
	// sessions older than this are refused. Default 1209600s (two weeks).
	SessionCookieAge time.Duration

	// Location is the zone of zoneless expire_date values (SQLite, MySQL):
	// UTC, what Django writes with USE_TZ = True. With USE_TZ = False set
	// it to Django's TIME_ZONE. PostgreSQL's timestamptz needs nothing.
	Location *time.Location

	// Logger gets the reasons of lookups (debug), and database failures
	// (error, at most one line a second of each kind). Lookups log from
	// their own goroutines: its writer must be safe for concurrent use, as
	// an *os.File is.
	Logger zerolog.Logger
}

func (o *Options) setDefaults() {
	if o.Store == "" {
		o.Store = StoreDjango
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if o.SessionTable == "" {
		o.SessionTable = "django_session"
	}
	if o.UserTable == "" {
		o.UserTable = "auth_user"
	}
	if o.UsernameColumn == "" {
		o.UsernameColumn = "username"
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	def(&o.CacheTTL, 60*time.Second)
	def(&o.NegativeTTL, 10*time.Second)
	def(&o.LookupTimeout, 100*time.Millisecond)
	def(&o.QueryTimeout, 5*time.Second)
	def(&o.RetryInterval, time.Second)
	def(&o.SessionCookieAge, 1209600*time.Second)
	if o.MissRate == 0 {
		o.MissRate = 50
	}
	if o.MaxConns == 0 {
		o.MaxConns = 4
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
}

func (o *Options) validate() error {
	var errs []error
	switch o.Store {
	case StoreDjango:
	case StoreSignedCookies:
		if len(o.Secrets) == 0 {
			errs = append(errs, errors.New("store django-signed-cookies needs the secret key: the cookie is the session, only its signature makes it trustworthy"))
		}
	default:
		errs = append(errs, fmt.Errorf("store %q: want %q or %q", o.Store, StoreDjango, StoreSignedCookies))
	}
	for i, s := range o.Secrets {
		if len(s) == 0 {
			errs = append(errs, fmt.Errorf("secret key %d is empty", i+1))
		}
	}
	positive := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must be positive", name, d))
		}
	}
	positive("cache_ttl", o.CacheTTL)
	positive("negative_ttl", o.NegativeTTL)
	positive("lookup_timeout", o.LookupTimeout)
	positive("query timeout", o.QueryTimeout)
	positive("retry interval", o.RetryInterval)
	positive("session cookie age", o.SessionCookieAge)
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("cache_size %d: must be positive", o.CacheSize))
	}
	if o.MissRate < 0 {
		errs = append(errs, fmt.Errorf("miss rate %v: must be positive", o.MissRate))
	}
	if o.MaxConns < 0 || o.MaxConns > 64 {
		errs = append(errs, fmt.Errorf("max connections %d: want 1 to 64", o.MaxConns))
	}
	return errors.Join(errs...)
}

// cacheKey is the first 128 bits of SHA-256 of the cookie value: the cache
// never holds a cookie, and a memory dump of it gives none back.
type cacheKey [16]byte

func keyOf(cookie string) cacheKey {
	sum := sha256.Sum256([]byte(cookie))
	return cacheKey(sum[:16])
}

// String is the short form used in logs: enough to tell two cookies apart
// in a log, not enough to find either.
func (k cacheKey) String() string { return hex.EncodeToString(k[:4]) }

// entry is a cached answer, kept small: the cache holds up to cache_size of
// them. The user id and reason are interned (a site has few superusers and
// a fixed set of reasons), so an entry holds two pointers, not two strings
// of its own. until bounds it by the session's own expiry, which can come
// before the cache's TTL.
type entry struct {
	until  int64 // UnixNano
	userID unique.Handle[string]
	reason unique.Handle[string]
}

func newEntry(v Verdict, until int64) entry {
	return entry{until: until, userID: unique.Make(v.UserID), reason: unique.Make(v.Reason)}
}

// verdict is the cached answer; superuser says which cache held it (store1
// puts positive answers in one, negative ones in the other).
func (e entry) verdict(superuser bool) Verdict {
	return Verdict{Superuser: superuser, UserID: e.userID.Value(), Reason: e.reason.Value(), Cached: true}
}

// call is one lookup in flight; later misses for the same cookie wait on
// it instead of querying again.
type call struct {
	done chan struct{}
	v    Verdict
}

// Checker answers Check from its cache and the database. It is safe for
// concurrent use.
type Checker struct {
	o       Options
	log     zerolog.Logger
	store   store
	secrets [][]byte
	now     func() time.Time

	pos, neg *expirable.LRU[cacheKey, entry]

	ctx    context.Context // cancelled by Close: background lookups stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	calls       map[cacheKey]*call
	maxInflight int
	tokens      float64
	refilled    time.Time
	downUntil   time.Time
	downReason  string
	closed      bool

	lookups atomic.Int64 // lookups started (each makes one or two queries)

	logUnreachable, logDBError, logRate, logBusy limitedLog
}

// Open validates o and returns a Checker. It does not wait for the
// database: the database may be down when maintgate starts, and Check then
// answers "database unreachable: …" until it is back. It connects once in
// the background and logs an error if that fails. Open fails only on a
// configuration error (store, URL, table name, durations), naming it; ctx
// is not used after Open returns.
//
// Each Checker holds two expirable LRU caches, whose cleanup goroutines
// outlive Close (golang-lru v2.0.7 cannot stop them): open one Checker per
// process, not one per reload.
func Open(ctx context.Context, o Options) (*Checker, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	st, err := openStore(&o)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	c := newChecker(o, st)
	c.wg.Add(1)
	go c.warm(st)
	return c, nil
}

// warm connects once in the background, so the first superuser after a
// start does not wait for a connection, and a database that is down or
// misconfigured at start is in the log at once, not at the first admin
// request.
func (c *Checker) warm(st store) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.o.QueryTimeout)
	defer cancel()
	if err := st.ping(ctx, c.o.Store == StoreDjango); err != nil && c.ctx.Err() == nil {
		c.log.Error().Err(err).Msg("session database check at start failed: superusers not yet cached are redirected until it works")
	}
}

func newChecker(o Options, st store) *Checker {
	c := &Checker{
		o:           o,
		log:         o.Logger,
		store:       st,
		secrets:     o.Secrets,
		now:         time.Now,
		pos:         expirable.NewLRU[cacheKey, entry](o.CacheSize, nil, o.CacheTTL),
		neg:         expirable.NewLRU[cacheKey, entry](o.CacheSize, nil, o.NegativeTTL),
		calls:       map[cacheKey]*call{},
		maxInflight: 4 * o.MaxConns,
		tokens:      burst(o.MissRate),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

func burst(rate float64) float64 { return max(1, rate) }

// Check answers whether cookieValue (the session cookie's value, already
// URL-decoded) belongs to an active superuser. It never blocks longer than
// Options.LookupTimeout and never panics.
func (c *Checker) Check(client netip.Addr, cookieValue string) Verdict {
	if cookieValue == "" {
		return Verdict{Reason: ReasonNoCookie}
	}
	signed := c.o.Store == StoreSignedCookies
	if signed && !PlausibleSignedCookie(cookieValue) || !signed && !ValidSessionKey(cookieValue) {
		return Verdict{Reason: ReasonNotKey}
	}
	k := keyOf(cookieValue)
	now := c.now()
	if v, ok := c.cached(k, now); ok {
		return v
	}
	var sess *Session
	var until time.Time
	if signed {
		// The signature and age are checked here, without the database:
		// a forged or stale cookie costs a few HMACs and no query.
		s, err := DecodeSigned(cookieValue, SignedCookiesSalt, c.secrets)
		if err == nil && now.Sub(s.SignedAt) > c.o.SessionCookieAge {
			err = ErrExpired
		}
		if err != nil {
			r := result{v: Verdict{Reason: reasonOf(err)}, cache: true}
			c.store1(k, r, now)
			c.logVerdict(k, r)
			return r.v
		}
		sess, until = &s, s.SignedAt.Add(c.o.SessionCookieAge)
	}
	return c.miss(k, cookieValue, sess, until, now)
}

// cached returns the cached answer for k, if it is still good.
func (c *Checker) cached(k cacheKey, now time.Time) (Verdict, bool) {
	for i, lru := range [...]*expirable.LRU[cacheKey, entry]{c.pos, c.neg} {
		e, ok := lru.Get(k)
		if !ok {
			continue
		}
		if now.UnixNano() >= e.until {
			lru.Remove(k)
			continue
		}
		return e.verdict(i == 0), true
	}
	return Verdict{}, false
}

// miss starts a lookup for k, or joins the one in flight, and waits for it
// at most LookupTimeout.
func (c *Checker) miss(k cacheKey, cookie string, sess *Session, until, now time.Time) Verdict {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Verdict{Reason: ReasonClosed}
	}
	cl := c.calls[k]
	if cl == nil {
		if now.Before(c.downUntil) {
			r := c.downReason
			c.mu.Unlock()
			return Verdict{Reason: r}
		}
		if len(c.calls) >= c.maxInflight {
			c.mu.Unlock()
			c.logBusy.warn(&c.log, now, "session lookups: too many in flight, the database is slow; answering not-a-superuser without a query", "in_flight", c.maxInflight)
			return Verdict{Reason: ReasonBusy}
		}
		if !c.take(now) {
			c.mu.Unlock()
			c.logRate.warn(&c.log, now, "session lookups over the miss rate limit: answering not-a-superuser without a query", "miss_rate", c.o.MissRate)
			return Verdict{Reason: ReasonRateLimit}
		}
		cl = &call{done: make(chan struct{})}
		c.calls[k] = cl
		c.wg.Add(1)
		c.lookups.Add(1)
		go c.run(k, cl, cookie, sess, until)
	}
	c.mu.Unlock()

	t := time.NewTimer(c.o.LookupTimeout)
	defer t.Stop()
	select {
	case <-cl.done:
		return cl.v
	case <-t.C:
		return Verdict{Reason: ReasonTimeout}
	}
}

// take spends a token of the miss-rate bucket. Called with c.mu held.
func (c *Checker) take(now time.Time) bool {
	if !c.refilled.IsZero() {
		c.tokens = min(burst(c.o.MissRate), c.tokens+now.Sub(c.refilled).Seconds()*c.o.MissRate)
	}
	c.refilled = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// result is the outcome of a lookup.
type result struct {
	v     Verdict
	until time.Time // positive answers: the session's own expiry
	cache bool      // a definite answer, not a failure
	err   error     // the database failed
}

// run performs one lookup in the background, fills the cache and wakes
// every Check waiting on it.
func (c *Checker) run(k cacheKey, cl *call, cookie string, sess *Session, until time.Time) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.o.QueryTimeout)
	r := c.safeLookup(ctx, cookie, sess, until)
	cancel()
	now := c.now()
	if r.cache {
		c.store1(k, r, now)
	}
	c.mu.Lock()
	delete(c.calls, k)
	switch {
	case r.err != nil && strings.HasPrefix(r.v.Reason, reasonUnreachable):
		c.downUntil, c.downReason = now.Add(c.o.RetryInterval), r.v.Reason
	case r.err == nil:
		c.downUntil = time.Time{}
	}
	c.mu.Unlock()
	cl.v = r.v
	close(cl.done)
	c.logVerdict(k, r)
}

// safeLookup turns a panic (a driver bug, a corrupt row) into an answer:
// the process that Apache depends on must not die of one cookie.
func (c *Checker) safeLookup(ctx context.Context, cookie string, sess *Session, until time.Time) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{v: Verdict{Reason: reasonDBError + "internal error"}, err: fmt.Errorf("panic: %v", p)}
		}
	}()
	return c.lookup(ctx, cookie, sess, until)
}

func (c *Checker) lookup(ctx context.Context, cookie string, sess *Session, until time.Time) result {
	if sess == nil {
		data, exp, err := c.store.session(ctx, cookie)
		if errors.Is(err, errNotFound) {
			return negative(ReasonNoSession, "")
		}
		if err != nil {
			return c.failure(ctx, err)
		}
		if !exp.After(c.now()) {
			return negative(ReasonExpired, "")
		}
		s, err := DecodeSessionData(data, c.secrets)
		if err != nil {
			return negative(reasonOf(err), "")
		}
		sess, until = &s, exp
	}
	if sess.UserID == "" || sess.Backend == "" {
		// Django's get_user needs both keys; without them nobody is
		// logged in.
		return negative(ReasonNotLoggedIn, "")
	}
	if len(c.secrets) > 0 && sess.AuthHash == "" {
		return negative(ReasonNoAuthHash, sess.UserID)
	}
	u, err := c.store.user(ctx, sess.UserID)
	if errors.Is(err, errNotFound) {
		return negative(ReasonNoUser, sess.UserID)
	}
	if err != nil {
		r := c.failure(ctx, err)
		r.v.UserID = sess.UserID
		return r
	}
	return judge(u, sess, c.secrets, until)
}

// judge is Django's get_user and the superuser test, on a user row.
func judge(u userRow, sess *Session, secrets [][]byte, until time.Time) result {
	if len(secrets) > 0 && !VerifyAuthHash(sess.AuthHash, u.Password, secrets) {
		return negative(ReasonHashMismatch, sess.UserID)
	}
	if !u.Active {
		return negative(ReasonInactive, sess.UserID)
	}
	if !u.Superuser {
		return negative(ReasonNotSuperuser, sess.UserID)
	}
	return result{v: Verdict{Superuser: true, UserID: sess.UserID, Reason: ReasonSuperuser}, until: until, cache: true}
}

func negative(reason, userID string) result {
	return result{v: Verdict{Reason: reason, UserID: userID}, cache: true}
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrBadSignature):
		return ReasonBadSignature
	case errors.Is(err, ErrExpired):
		return ReasonExpired
	case errors.Is(err, ErrNotJSON):
		return ReasonNotJSON
	default:
		return ReasonMalformed
	}
}

// failure makes the answer for a database error: not cached, and
// "unreachable" trips the retry interval.
func (c *Checker) failure(ctx context.Context, err error) result {
	if c.ctx.Err() != nil {
		return result{v: Verdict{Reason: ReasonClosed}, err: err}
	}
	msg := shortError(err)
	if ctx.Err() != nil {
		msg = fmt.Sprintf("no answer within %v", c.o.QueryTimeout)
	}
	if ctx.Err() != nil || unreachable(err) {
		return result{v: Verdict{Reason: reasonUnreachable + msg}, err: err}
	}
	return result{v: Verdict{Reason: reasonDBError + msg}, err: err}
}

// unreachable tells a database that cannot be reached (refused, reset,
// no route, timed out, a file that cannot be opened) from one that
// answered with an error (a missing table, a permission).
func unreachable(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: the server is shutting
		// down, crashed or not yet accepting connections.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	return errors.As(err, &ne) || errors.As(err, &ce) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) || strings.Contains(err.Error(), "unable to open database file") ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "conn closed")
}

// shortError keeps a reason on one short line.
func shortError(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// store1 caches a definite answer: positive ones in one cache, negative
// ones in the other, so a flood of unknown cookies cannot evict the
// superusers.
func (c *Checker) store1(k cacheKey, r result, now time.Time) {
	if r.v.Superuser {
		until := now.Add(c.o.CacheTTL)
		if !r.until.IsZero() && r.until.Before(until) {
			until = r.until
		}
		c.neg.Remove(k)
		c.pos.Add(k, newEntry(r.v, until.UnixNano()))
		return
	}
	c.pos.Remove(k)
	c.neg.Add(k, newEntry(r.v, now.Add(c.o.NegativeTTL).UnixNano()))
}

func (c *Checker) logVerdict(k cacheKey, r result) {
	switch {
	case r.err != nil && r.v.Reason == ReasonClosed:
	case r.err != nil && strings.HasPrefix(r.v.Reason, reasonUnreachable):
		c.logUnreachable.error(&c.log, c.now(), "session database unreachable: superusers not yet cached are redirected", r.err)
	case r.err != nil:
		c.logDBError.error(&c.log, c.now(), "session database error: superusers not yet cached are redirected", r.err)
	case r.v.Superuser:
		c.log.Debug().Str("key", k.String()).Str("user_id", r.v.UserID).Str("reason", r.v.Reason).Msg("session lookup: superuser")
	default:
		c.log.Debug().Str("key", k.String()).Str("user_id", r.v.UserID).Str("reason", r.v.Reason).Msg("session lookup: not a superuser")
	}
}

// Ping connects and proves the tables are readable (the session table,
// unless the store is signed cookies, and the user table), for `maintgate
// config check`. The error names the table that failed.
func (c *Checker) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.QueryTimeout)
		defer cancel()
	}
	if err := c.store.ping(ctx, c.o.Store == StoreDjango); err != nil {
		return fmt.Errorf("session database: %w", err)
	}
	return nil
}

// CheckPassword answers whether username and password are those of an
// active superuser, for the mod_authnz_external checker. The password is
// verified as Django's PBKDF2 hashers do (pbkdf2_sha256, pbkdf2_sha1), in
// constant time; any other algorithm is refused with a Reason naming it.
// An unknown user costs a password derivation too, so the time taken does
// not tell which user names exist. It uses no cache and no rate limit.
//
// The error is set only when the database failed.
func (c *Checker) CheckPassword(ctx context.Context, username, password string) (Verdict, error) {
	if username == "" {
		return Verdict{Reason: ReasonNoUser}, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.QueryTimeout)
		defer cancel()
	}
	u, err := c.store.userByName(ctx, username)
	if errors.Is(err, errNotFound) {
		dummyPasswordWork(password)
		return Verdict{Reason: ReasonNoUser}, nil
	}
	if err != nil {
		r := c.failure(ctx, err)
		return r.v, fmt.Errorf("session database: %w", err)
	}
	ok, err := VerifyPassword(password, u.Password)
	v := Verdict{UserID: u.ID}
	switch {
	case err != nil:
		v.Reason = err.Error()
	case !ok:
		v.Reason = ReasonWrongPassword
	case !u.Active:
		v.Reason = ReasonInactive
	case !u.Superuser:
		v.Reason = ReasonNotSuperuser
	default:
		v.Superuser, v.Reason = true, ReasonSuperuser
	}
	return v, nil
}

// Close stops background lookups, waits for them, empties the caches and
// closes the database pool. Check answers "session checker closed" after.
func (c *Checker) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.pos.Purge()
	c.neg.Purge()
	return c.store.close()
}

// limitedLog writes at most one line a second of one kind, so a flood
// cannot fill the disk; the next line says how many were left out.
type limitedLog struct {
	next       atomic.Int64 // UnixNano before which lines are dropped
	suppressed atomic.Int64
}

func (l *limitedLog) allow(now time.Time) (int64, bool) {
	n := l.next.Load()
	if now.UnixNano() < n || !l.next.CompareAndSwap(n, now.Add(time.Second).UnixNano()) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

func (l *limitedLog) error(log *zerolog.Logger, now time.Time, msg string, err error) {
	if s, ok := l.allow(now); ok {
		log.Error().Err(err).Int64("suppressed", s).Msg(msg)
	}
}

func (l *limitedLog) warn(log *zerolog.Logger, now time.Time, msg, key string, val any) {
	if s, ok := l.allow(now); ok {
		log.Warn().Interface(key, val).Int64("suppressed", s).Msg(msg)
	}
}
