// Package authz is maintgate's decision: given one request during
// maintenance, allow it or redirect it to the maintenance page, and say why.
//
// Decide is a pure function of the policy (the configuration snapshot), the
// flag, the request, the clock and a session checker. It does no I/O of its
// own except through the SessionChecker, which it consults last and only
// when every cheaper rule has said no.
package authz

import (
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

// Reason says which rule decided.
type Reason uint8

const (
	Inactive    Reason = iota // no flag file, or its window is not open
	AllowedPath               // a static, media or always-allowed path
	AdminPath                 // the admin prefix, also behind /<lang>/
	Whitelisted               // client IP in the configured whitelist
	WindowAllow               // client IP allowed by `maintgate on --allow`
	Token                     // a valid bypass token cookie
	Superuser                 // an active Django superuser's session
	Redirected                // no rule allowed the request
	Unreadable                // the key line could not be read (on_error)
)

var reasonText = [...]string{
	Inactive:    "maintenance inactive",
	AllowedPath: "always-allowed path",
	AdminPath:   "admin path",
	Whitelisted: "whitelisted IP",
	WindowAllow: "IP allowed for this maintenance window",
	Token:       "valid bypass token",
	Superuser:   "active superuser session",
	Redirected:  "maintenance active",
	Unreadable:  "unreadable request line",
}

func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "unknown"
}

// Request is one request as Apache describes it: fields already decoded.
// Decide keeps none of its strings after it returns, so they may alias a
// buffer the caller reuses.
type Request struct {
	Peer   netip.Addr // REMOTE_ADDR
	Path   string     // REQUEST_URI (decoded, no query string)
	XFF    string     // X-Forwarded-For header, "" when absent
	Cookie string     // Cookie header, "" when absent
}

// Decision is the answer and the facts behind it, for the log line.
type Decision struct {
	Allow  bool
	Reason Reason
	Client netip.Addr // the address matched against the whitelist
	// Detail is extra context for the log: the token label, the session
	// verdict's reason, the user id.
	Detail string
	UserID string
	// SessionCached reports whether a session verdict came from the cache.
	SessionCached bool
	// SessionChecked reports whether a session cookie was looked at.
	SessionChecked bool
}

// SessionChecker answers whether a session cookie value belongs to an
// active superuser. It must bound its own latency: the whole server waits.
// client is the address the request is judged by (after X-Forwarded-For),
// so that a checker can share its database budget fairly between sources.
type SessionChecker interface {
	Check(client netip.Addr, cookieValue string) Verdict
}

// Policy is the part of the configuration the decision reads. It is built
// once per (re)load and never changed afterwards.
type Policy struct {
	AllowPaths     []string // prefixes, segment-bounded; trailing "/" optional
	AdminPaths     []string // as AllowPaths, and also behind a /<lang>/ prefix
	AllowAdmin     bool     // allow_admin_during_maintenance
	Whitelist      *whitelist.List
	TrustedProxies *whitelist.List
	TokenCookie    string
	TokenKey       []byte // nil: tokens off
	SessionCookie  string
	OnError        bool // answer for unreadable lines: true = allow
}

// Window is the part of the flag the decision reads.
type Window struct {
	Present bool
	Flag    flagfile.Flag
	Allow   *whitelist.List // Flag.Allow parsed
}

// Active reports whether maintenance is on at now.
func (w *Window) Active(now time.Time) bool {
	return w != nil && w.Present && w.Flag.ActiveAt(now)
}

// maxTokenCookies bounds the work a request with many copies of the token
// cookie can cause.
const maxTokenCookies = 4

// Decide applies the rules of DESIGN.md in order. sessions may be nil.
func Decide(p *Policy, w *Window, r Request, now time.Time, sessions SessionChecker) Decision {
	if !w.Active(now) {
		return Decision{Allow: true, Reason: Inactive}
	}
	clean := CleanPath(r.Path)
	if MatchPrefix(p.AllowPaths, clean) {
		return Decision{Allow: true, Reason: AllowedPath}
	}
	if MatchAdmin(p.AdminPaths, clean) {
		return Decision{Allow: true, Reason: AdminPath}
	}
	client := whitelist.ClientIP(r.Peer, r.XFF, p.TrustedProxies)
	d := Decision{Client: client}
	if p.Whitelist.Contains(client) {
		d.Allow, d.Reason = true, Whitelisted
		return d
	}
	if w.Allow.Contains(client) {
		d.Allow, d.Reason = true, WindowAllow
		return d
	}
	if r.Cookie != "" {
		if p.TokenKey != nil {
			n := 0
			var why string
			for rest := r.Cookie; rest != "" && n < maxTokenCookies; {
				var v string
				var ok bool
				v, rest, ok = nextCookie(rest, p.TokenCookie)
				if !ok {
					break
				}
				n++
				c, err := token.Verify(p.TokenKey, v, now)
				if err == nil {
					d.Allow, d.Reason, d.Detail = true, Token, "label "+c.Label
					return d
				}
				why = err.Error()
			}
			if why != "" {
				d.Detail = "token rejected: " + why
			}
		}
		if p.AllowAdmin && sessions != nil {
			if v, ok := lastCookie(r.Cookie, p.SessionCookie); ok && v != "" {
				// The request's strings may share a buffer that the next
				// line reuses; the checker may keep its argument (a
				// lookup that outlives the answer), so it gets a copy.
				sv := sessions.Check(client, strings.Clone(v))
				d.SessionChecked, d.SessionCached, d.UserID = true, sv.Cached, sv.UserID
				if sv.Superuser {
					d.Allow, d.Reason, d.Detail = true, Superuser, sv.Reason
					return d
				}
				if d.Detail != "" {
					d.Detail += "; "
				}
				d.Detail += "session: " + sv.Reason
			}
		}
	}
	d.Reason = Redirected
	return d
}

// CleanPath removes dot segments and repeated slashes, so that
// "/static/../de/map/" is judged as "/de/map/". Apache already does this to
// REQUEST_URI; maintgate does it again because other writers may not.
// It does not decode percent escapes a second time: a "%2e" that survives
// Apache's decoding is a literal in the path the backend sees.
func CleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if !needsClean(p) {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func needsClean(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '/':
			if i+1 < len(p) && p[i+1] == '/' {
				return true
			}
		case '.':
			if p[i-1] == '/' && (i+1 == len(p) || p[i+1] == '/' || (p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/'))) {
				return true
			}
		}
	}
	return false
}

// MatchPrefix reports whether p lies under one of prefixes, on a segment
// boundary: "/admin/" matches "/admin" and "/admin/x", not "/administrator".
// A prefix without a trailing slash ("/robots.txt") matches itself and what
// lies below it.
func MatchPrefix(prefixes []string, p string) bool {
	for _, pre := range prefixes {
		if underPrefix(pre, p) {
			return true
		}
	}
	return false
}

func underPrefix(pre, p string) bool {
	base := strings.TrimSuffix(pre, "/")
	if base == "" {
		return true // "/" covers everything
	}
	if !strings.HasPrefix(p, base) {
		return false
	}
	return len(p) == len(base) || p[len(base)] == '/'
}

// MatchAdmin is MatchPrefix for admin prefixes, which Django's i18n_patterns
// may also put behind a language prefix: /de/admin/, /pt-br/admin/.
func MatchAdmin(prefixes []string, p string) bool {
	if MatchPrefix(prefixes, p) {
		return true
	}
	// "/xx/rest" or "/xx-yy/rest": strip one language segment.
	if len(p) < 4 {
		return false
	}
	end := strings.IndexByte(p[1:], '/')
	if end < 0 {
		return false
	}
	if !isLanguage(p[1 : 1+end]) {
		return false
	}
	return MatchPrefix(prefixes, p[1+end:])
}

// isLanguage accepts Django language codes: "de", "pt-br", "zh-hans",
// "sr-latn", "es_AR" (two or three letters, then an optional subtag).
func isLanguage(s string) bool {
	i := 0
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	if i < 2 || i > 3 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != '-' && s[i] != '_' {
		return false
	}
	sub := s[i+1:]
	if len(sub) < 2 || len(sub) > 8 {
		return false
	}
	for j := 0; j < len(sub); j++ {
		if !isLetter(sub[j]) && (sub[j] < '0' || sub[j] > '9') {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// nextCookie finds the next cookie called name in a Cookie header and
// returns its value and the rest of the header after it.
func nextCookie(header, name string) (value, rest string, ok bool) {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		part = strings.TrimLeft(part, " \t")
		k, v, found := strings.Cut(part, "=")
		if !found || strings.TrimRight(k, " \t") != name {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, header, true
	}
	return "", "", false
}

// lastCookie returns the value of the last cookie called name: the one
// Django itself would read (its cookie parser keeps the last duplicate).
func lastCookie(header, name string) (string, bool) {
	var value string
	found := false
	for header != "" {
		v, rest, ok := nextCookie(header, name)
		if !ok {
			break
		}
		value, found, header = v, true, rest
	}
	return value, found
}
