package panel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz/session"
	"github.com/maintgate/maintgate/authz/session/settings"
	"github.com/maintgate/maintgate/config"
)

// auth.go: who may operate. "django": a session of an active superuser,
// checked as the gate checks its superuser bypass (signature, expiry,
// active superuser, password hash), whatever [session] allow lets through
// the gate: opening the site to staff must not hand them the switch.
// "htpasswd": HTTP Basic against bcrypt lines.

// User is who signed in, as the audit log names them.
type User struct {
	Name string // "alice" (htpasswd or Django's user name); "django user 1" when the name cannot be read
	Via  string // "htpasswd" or "django"
}

// verdict is the outcome of signing a request in.
type verdict int

const (
	signedIn verdict = iota
	noCredentials
	refused // credentials given, but wrong or not a superuser's
	// unavailable: a session cookie the database could not check (down,
	// locked by a migration, slow, the breaker open). Not a refusal: the
	// operator is told to come back or to use htpasswd.
	unavailable
)

// authenticator checks the methods of [panel] auth, in the order given.
type authenticator struct {
	methods  []string
	cookie   string           // the Django session cookie's name
	sessions *session.Checker // "django"
	htpasswd *htpasswdFile    // "htpasswd"
	now      func() time.Time
}

// sessionCacheTTL bounds how long a superuser session stays signed in
// after its user is demoted or logs out: shorter than the gate's 60 s,
// since the panel can switch the site.
const sessionCacheTTL = 10 * time.Second

// newAuthenticator opens what cfg's [panel] auth names. No method is an
// error: a panel anyone can use must never start.
func newAuthenticator(ctx context.Context, cfg *config.Config, log *zerolog.Logger, now func() time.Time) (*authenticator, error) {
	if len(cfg.Panel.Auth) == 0 {
		return nil, errors.New("panel: [panel] auth is empty: set auth = [\"django\"] or [\"htpasswd\"] (with htpasswd_file); the panel never runs open")
	}
	a := &authenticator{methods: cfg.Panel.Auth, cookie: cfg.Session.Cookie, now: now}
	if slices.Contains(a.methods, "htpasswd") {
		a.htpasswd = &htpasswdFile{path: cfg.Panel.HtpasswdFile, log: func(p string) { log.Warn().Msg(p) }}
		a.htpasswd.mu.Lock()
		a.htpasswd.reload()
		err := a.htpasswd.loadErr
		a.htpasswd.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("panel: %w", err)
		}
	}
	if slices.Contains(a.methods, "django") {
		c, err := openSuperuserSessions(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		a.sessions = c
	}
	return a, nil
}

// openSuperuserSessions opens a session checker like the gate's, with
// allow forced to superusers and a wait as long as the query timeout: the
// panel holds nobody's pipe, so a cold database must not turn a valid
// session into a 403 (as gate.Options.SessionWait does for `maintgate
// authz`).
func openSuperuserSessions(ctx context.Context, cfg *config.Config, log *zerolog.Logger) (*session.Checker, error) {
	sc := cfg.Session
	if sc.Store == "none" {
		return nil, errors.New("panel: auth \"django\" needs [session] store and database (the application's Django sessions); set them, or use auth = [\"htpasswd\"]")
	}
	o := session.Options{
		Store:            sc.Store,
		Database:         sc.Database,
		SessionTable:     sc.SessionTable,
		UserTable:        sc.UserTable,
		Allow:            []string{settings.AllowSuperuser},
		CacheSize:        1000,
		CacheTTL:         sessionCacheTTL,
		NegativeTTL:      time.Second,
		LookupTimeout:    settings.QueryTimeout,
		MissRate:         sc.MissRate,
		MaxConns:         2,
		SessionCookieAge: sc.CookieAge.Duration,
		Logger:           func() *zerolog.Logger { return log },
	}
	if sc.SecretKeyFile == "" {
		return nil, errors.New("panel: auth \"django\" needs session.secret_key_file: without it a row in django_session is trusted as it is, which is not enough to hand out the switch")
	}
	var err error
	if o.Secrets, err = session.LoadSecrets(sc.SecretKeyFile); err != nil {
		return nil, fmt.Errorf("panel: %w", err)
	}
	if o.Location, err = time.LoadLocation(sc.TimeZone); err != nil {
		return nil, fmt.Errorf("panel: session.time_zone: %w", err)
	}
	c, err := session.Open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("panel: session store: %w", err)
	}
	return c, nil
}

func (a *authenticator) close() {
	if a.sessions != nil {
		a.sessions.Close()
	}
}

// check signs r in. Credentials of a method that is not configured count
// as none. Basic credentials are tried before a session cookie: a
// script's curl -u says what it means.
// On unavailable, why is the failure's kind ("database locked"), never
// the database's own error text.
func (a *authenticator) check(r *http.Request, client netip.Addr) (u User, v verdict, why string) {
	if name, pw, ok := r.BasicAuth(); ok && a.htpasswd != nil {
		if a.htpasswd.check(name, pw, a.now()) {
			return User{Name: name, Via: "htpasswd"}, signedIn, ""
		}
		return User{}, refused, ""
	}
	if a.sessions != nil {
		if c, err := r.Cookie(a.cookie); err == nil && c.Value != "" {
			sv := a.sessions.Check(client, c.Value)
			switch {
			case sv.Pass:
				return User{Name: a.djangoName(r.Context(), sv.UserID), Via: "django"}, signedIn, ""
			case lookupFailed(sv.Reason):
				kind, _, _ := strings.Cut(sv.Reason, ":")
				return User{}, unavailable, kind
			}
			return User{}, refused, ""
		}
	}
	return User{}, noCredentials, ""
}

// lookupFailed says whether a session verdict's reason is the database's
// failure rather than a verdict on the session: "database …" (failure.go
// of authz/session), or no answer in time, or a lookup not started.
func lookupFailed(reason string) bool {
	switch reason {
	case session.ReasonTimeout, session.ReasonPending, session.ReasonBusy, session.ReasonRateLimit, session.ReasonClosed:
		return true
	}
	return strings.HasPrefix(reason, "database ")
}

// djangoName is the signed-in superuser's user name, for the page and the
// audit log; its id when the database cannot say (the session passed, so
// the user may operate either way).
func (a *authenticator) djangoName(ctx context.Context, id string) string {
	if name, err := a.sessions.Username(ctx, id); err == nil && name != "" {
		return name
	}
	return "django user " + id
}

// basic says whether HTTP Basic is offered (WWW-Authenticate on a 401).
func (a *authenticator) basic() bool { return a.htpasswd != nil }

// django says whether a Django session signs in.
func (a *authenticator) django() bool { return a.sessions != nil }
