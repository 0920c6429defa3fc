package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz/session/settings"
)

// Store names.
const (
	StoreDjango        = "django"                // database sessions (db, cached_db)
	StoreSignedCookies = "django-signed-cookies" // the cookie is the session
)

// Options configure a Checker. Zero values take the defaults of
// DefaultOptions.
type Options struct {
	Store    string // StoreDjango (default) or StoreSignedCookies
	Database string // postgres://…, postgresql://…, sqlite:/path, sqlite:///abs/path, file:/path, mysql://user:pass@host:port/db

	// Secrets are SECRET_KEY first, then SECRET_KEY_FALLBACKS (see
	// LoadSecrets). Every one is tried for signatures and _auth_user_hash.
	// Empty: trust the database, verify nothing (the caller warns); not
	// allowed with StoreSignedCookies, where the cookie is the session.
	Secrets [][]byte

	SessionTable   string // a custom session model's table, same columns
	UserTable      string // a custom user model's table, same columns
	UsernameColumn string // for CheckPassword

	// Allow says whose sessions pass: settings.AllowSuperuser (the
	// default), AllowStaff, AllowActive, "group:NAME"; any one rule lets
	// an active user through. Nil: superusers only.
	Allow           []string
	GroupTable      string // Django's auth_group, for group rules
	UserGroupsTable string // the user model's groups table (auth_user_groups)

	CacheSize     int           // entries, positive and negative caches each
	CacheTTL      time.Duration // positive answers (never past the session's own expiry)
	NegativeTTL   time.Duration // negative answers; also: a cookie waits for the database at most once in this time
	LookupTimeout time.Duration // the longest Check waits
	QueryTimeout  time.Duration // the longest a background lookup runs
	RetryInterval time.Duration // after the database failed, no query for this long (doubling to 4× while it keeps failing)
	MissRate      float64       // lookups a second (token bucket, burst the same; one source gets a fifth, see budget.go)
	MaxConns      int           // database connections

	// SessionCookieAge is Django's SESSION_COOKIE_AGE: signed_cookies
	// sessions older than this are refused.
	SessionCookieAge time.Duration

	// Location is the zone of zoneless expire_date values (SQLite, MySQL):
	// UTC, what Django writes with USE_TZ = True. With USE_TZ = False set
	// it to Django's TIME_ZONE. PostgreSQL's timestamptz needs nothing.
	Location *time.Location

	// Logger returns the logger in force: the reasons of lookups (debug)
	// and database failures (at most one line a second of each kind). A
	// function, not a logger, so that a reload that replaces the logger
	// (and closes the old one) is followed at once. Lookups log from their
	// own goroutines: the writer must be safe for concurrent use. Nil: no
	// log.
	Logger func() *zerolog.Logger
}

// DefaultOptions returns the defaults (package settings, which config's
// defaults come from too).
func DefaultOptions() Options {
	return Options{
		Store:            StoreDjango,
		SessionTable:     settings.SessionTable,
		UserTable:        settings.UserTable,
		UsernameColumn:   settings.UsernameColumn,
		Allow:            settings.DefaultAllow(),
		GroupTable:       settings.GroupTable,
		UserGroupsTable:  settings.UserGroupsTable,
		CacheSize:        settings.CacheSize,
		CacheTTL:         settings.CacheTTL,
		NegativeTTL:      settings.NegativeTTL,
		LookupTimeout:    settings.LookupTimeout,
		QueryTimeout:     settings.QueryTimeout,
		RetryInterval:    settings.RetryInterval,
		MissRate:         settings.MissRate,
		MaxConns:         settings.MaxConns,
		SessionCookieAge: settings.CookieAge,
		Location:         time.UTC,
	}
}

// setDefaults fills every zero field from DefaultOptions.
func (o *Options) setDefaults() {
	d := DefaultOptions()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	str(&o.Store, d.Store)
	str(&o.SessionTable, d.SessionTable)
	str(&o.UserTable, d.UserTable)
	str(&o.UsernameColumn, d.UsernameColumn)
	str(&o.GroupTable, d.GroupTable)
	str(&o.UserGroupsTable, d.UserGroupsTable)
	if o.Allow == nil {
		o.Allow = d.Allow
	}
	dur(&o.CacheTTL, d.CacheTTL)
	dur(&o.NegativeTTL, d.NegativeTTL)
	dur(&o.LookupTimeout, d.LookupTimeout)
	dur(&o.QueryTimeout, d.QueryTimeout)
	dur(&o.RetryInterval, d.RetryInterval)
	dur(&o.SessionCookieAge, d.SessionCookieAge)
	if o.CacheSize == 0 {
		o.CacheSize = d.CacheSize
	}
	if o.MissRate == 0 {
		o.MissRate = d.MissRate
	}
	if o.MaxConns == 0 {
		o.MaxConns = d.MaxConns
	}
	if o.Location == nil {
		o.Location = d.Location
	}
	if o.Logger == nil {
		nop := zerolog.Nop()
		o.Logger = func() *zerolog.Logger { return &nop }
	}
}

// validate checks all of o after setDefaults.
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
	for _, p := range settings.Check(settings.Values{
		SessionTable: o.SessionTable, UserTable: o.UserTable, CacheSize: o.CacheSize,
		GroupTable: o.GroupTable, UserGroupsTable: o.UserGroupsTable, Allow: o.Allow,
		CacheTTL: o.CacheTTL, NegativeTTL: o.NegativeTTL, LookupTimeout: o.LookupTimeout,
		CookieAge: o.SessionCookieAge, MissRate: o.MissRate, MaxConns: o.MaxConns,
	}) {
		errs = append(errs, p)
	}
	if o.QueryTimeout < 0 || o.RetryInterval < 0 {
		errs = append(errs, fmt.Errorf("query timeout %v, retry interval %v: must be positive", o.QueryTimeout, o.RetryInterval))
	}
	return errors.Join(errs...)
}
