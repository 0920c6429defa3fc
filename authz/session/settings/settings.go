// Package settings holds the session checker's settings that
// maintgate.toml's [session] table sets: their defaults and their rules,
// written once, for package config and package session alike.
//
// It is a leaf package, on purpose: config uses it without linking a
// database driver, and without an import cycle (session imports authz,
// whose tests import config).
package settings

import (
	"fmt"
	"strings"
	"time"
)

// Defaults.
const (
	SessionTable    = "django_session"
	UserTable       = "auth_user"
	GroupTable      = "auth_group"
	UserGroupsTable = "auth_user_groups"
	UsernameColumn  = "username"
	CacheSize       = 10000
	CacheTTL        = 60 * time.Second
	NegativeTTL     = 10 * time.Second
	LookupTimeout   = 100 * time.Millisecond
	QueryTimeout    = 5 * time.Second
	RetryInterval   = time.Second
	MissRate        = 50
	MaxConns        = 4
	CookieAge       = 1209600 * time.Second // Django's SESSION_COOKIE_AGE
	TimeZone        = "UTC"
)

// MaxLookupTimeout bounds lookup_timeout: every request of the whole
// server may wait that long behind one slow lookup.
const MaxLookupTimeout = 5 * time.Second

// Values are the settings Check validates.
type Values struct {
	SessionTable, UserTable string
	GroupTable              string
	UserGroupsTable         string
	Allow                   []string
	CacheSize               int
	CacheTTL, NegativeTTL   time.Duration
	LookupTimeout           time.Duration
	CookieAge               time.Duration
	MissRate                float64
	MaxConns                int
}

// Problem is one invalid setting. Key is its name in the [session] table.
type Problem struct {
	Key, Msg string
}

func (p Problem) Error() string { return p.Key + ": " + p.Msg }

// Check returns every problem of v. Zero values are problems: a file
// that sets one means it; the checker fills them with defaults first.
func Check(v Values) []Problem {
	var p []Problem
	bad := func(key, format string, args ...any) {
		p = append(p, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	const tableRule = "letters, digits, '_' and '$', not starting with a digit, at most 63; schema.table allowed"
	if !ValidTableName(v.SessionTable) {
		bad("session_table", "%q is not a table name (%s)", v.SessionTable, tableRule)
	}
	if !ValidTableName(v.UserTable) {
		bad("user_table", "%q is not a table name (%s)", v.UserTable, tableRule)
	}
	for _, t := range []struct{ key, name string }{{"group_table", v.GroupTable}, {"user_groups_table", v.UserGroupsTable}} {
		if !ValidTableName(t.name) {
			bad(t.key, "%q is not a table name (%s)", t.name, tableRule)
		}
	}
	_, probs := ParseAllow(v.Allow)
	p = append(p, probs...)
	if v.CacheSize < 1 {
		bad("cache_size", "must be at least 1, got %d", v.CacheSize)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"cache_ttl", v.CacheTTL}, {"negative_ttl", v.NegativeTTL}, {"lookup_timeout", v.LookupTimeout}, {"cookie_age", v.CookieAge}} {
		if d.v <= 0 {
			bad(d.key, "must be positive, got %s", d.v)
		}
	}
	if v.LookupTimeout > MaxLookupTimeout {
		bad("lookup_timeout", "%s is too long: every request of the server waits on it (at most %s)", v.LookupTimeout, MaxLookupTimeout)
	}
	if v.MissRate < 0 {
		bad("miss_rate", "must not be negative, got %v", v.MissRate)
	}
	if v.MaxConns < 1 || v.MaxConns > 64 {
		bad("max_conns", "must be between 1 and 64, got %d", v.MaxConns)
	}
	return p
}

// ValidTableName accepts "table" or "schema.table" of identifier
// characters: the names go into SQL text, so nothing else is let through.
func ValidTableName(s string) bool {
	schema, table, dotted := strings.Cut(s, ".")
	if !dotted {
		return ValidIdent(s)
	}
	return ValidIdent(schema) && ValidIdent(table)
}

// ValidIdent accepts an SQL identifier: a letter or '_', then letters,
// digits, '_' or '$', at most 63 bytes (PostgreSQL's NAMEDATALEN-1). A
// loop, not a regexp: compiling one at package init costs every forked
// `maintgate authz` 0.3 ms.
func ValidIdent(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '$'):
		default:
			return false
		}
	}
	return true
}
