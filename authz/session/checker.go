package session

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
)

// Reasons of a Verdict. Database failures read "database unreachable: …",
// "database locked: …", "database timed out: …" or "database error: …",
// with the error after the colon (failure.go).
const (
	ReasonSuperuser     = "active superuser"
	ReasonStaff         = "active staff"
	ReasonActive        = "active user" // allow = ["active"]
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
	ReasonNotSuperuser  = "user is not a superuser" // under the default allow
	ReasonNotAllowed    = "user matches no allow rule"
	ReasonWrongPassword = "wrong password"
	ReasonTimeout       = "lookup timed out"
	ReasonPending       = "lookup pending" // the database is slow: answered without waiting, the lookup goes on
	ReasonRateLimit     = "miss rate limit"
	ReasonBusy          = "too many lookups in flight"
	ReasonClosed        = "session checker closed"
)

// Checker answers Check from its cache and the database. It is safe for
// concurrent use.
type Checker struct {
	o       Options
	log     func() *zerolog.Logger
	store   store
	secrets [][]byte
	now     func() time.Time
	cache   *cache

	ctx    context.Context // cancelled by Close: background lookups stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex // guards the fields below
	flights     map[cacheKey]*flight
	waited      map[cacheKey]int64 // cookie -> UnixNano until which it does not wait again
	sweptAt     int64
	maxInflight int
	brk         breaker
	budget      *budget
	closed      bool

	lookups atomic.Int64 // lookups started (each makes one to three queries)
	counts  counters     // cache hits and database errors (stats.go)

	logFail [failTimeout + 1]limitedLog // one per failKind
	logRate limitedLog
	logBusy limitedLog

	rules rules // set by Open, never changed (no lock); read by lookups only
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

// warm connects once in the background, so the first session after a
// start does not wait for a connection, and a database that is down or
// misconfigured at start is in the log at once, not at the first admin
// request.
func (c *Checker) warm(st store) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.o.QueryTimeout)
	defer cancel()
	if err := st.ping(ctx, c.o.Store == StoreDjango); err != nil && c.ctx.Err() == nil {
		c.log().Error().Err(err).Msg("session database check at start failed: sessions not yet cached are redirected until it works")
	}
}

func newChecker(o Options, st store) *Checker {
	c := &Checker{
		o:           o,
		log:         o.Logger,
		store:       st,
		secrets:     o.Secrets,
		rules:       newRules(o.Allow),
		now:         time.Now,
		cache:       newCache(o.CacheSize, o.CacheTTL, o.NegativeTTL),
		flights:     map[cacheKey]*flight{},
		waited:      map[cacheKey]int64{},
		maxInflight: 4 * o.MaxConns,
		brk:         newBreaker(o.RetryInterval, o.NegativeTTL),
		budget:      newBudget(o.MissRate),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Check answers whether cookieValue (the session cookie's value, already
// URL-decoded) sent from client belongs to an active user that
// Options.Allow lets through (Verdict.Pass, and the rule in its Reason). It never
// panics, never blocks longer than Options.LookupTimeout, and blocks at
// all only while the database is healthy, at most once per cookie per
// Options.NegativeTTL (flight.go).
func (c *Checker) Check(client netip.Addr, cookieValue string) authz.Verdict {
	if cookieValue == "" {
		return authz.Verdict{Reason: ReasonNoCookie}
	}
	signed := c.o.Store == StoreSignedCookies
	if signed && !PlausibleSignedCookie(cookieValue) || !signed && !ValidSessionKey(cookieValue) {
		return authz.Verdict{Reason: ReasonNotKey}
	}
	k := keyOf(cookieValue)
	now := c.now()
	if v, ok := c.cache.get(k, now); ok {
		c.counts.cacheHits.Add(1)
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
			r := negative(reasonOf(err), "")
			c.cache.put(k, r.v, time.Time{}, now)
			c.logResult(k, r)
			return r.v
		}
		sess, until = &s, s.SignedAt.Add(c.o.SessionCookieAge)
	}
	return c.miss(k, client, cookieValue, sess, until, now)
}

// Username is the user name of the user with this primary key (a
// Verdict's UserID): for the panel, which names who made a change. It is
// never called on the gate's answer path.
func (c *Checker) Username(ctx context.Context, userID string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.QueryTimeout)
		defer cancel()
	}
	name, err := c.store.username(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("session database: user %s: %w", userID, err)
	}
	return name, nil
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
	c.cache.purge()
	return c.store.close()
}

// logResult logs a lookup's outcome: failures at most once a second per
// kind (a lock is a warning, the rest errors), answers at debug level.
func (c *Checker) logResult(k cacheKey, r result) {
	lg := c.log()
	switch {
	case r.fail != nil:
		lvl, msg := zerolog.ErrorLevel, "session database failed: sessions not yet cached are redirected"
		if r.fail.kind == failLocked {
			lvl, msg = zerolog.WarnLevel, "session database locked (a migration?): sessions not yet cached are redirected until the lock is released"
		}
		c.logFail[r.fail.kind].event(lg, lvl, c.now()).Err(r.fail.err).Str("reason", r.v.Reason).Msg(msg)
	case r.v.Reason == ReasonClosed:
	case r.v.Pass:
		lg.Debug().Str("key", k.String()).Str("user_id", r.v.UserID).Str("reason", r.v.Reason).Msg("session lookup: allowed")
	default:
		lg.Debug().Str("key", k.String()).Str("user_id", r.v.UserID).Str("reason", r.v.Reason).Msg("session lookup: not allowed")
	}
}
