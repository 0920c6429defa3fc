// Package authz is maintgate's decision: given one request during
// maintenance, allow it or redirect it to the maintenance page, and say why.
//
// Decide is a pure function of the policy (the configuration snapshot), the
// flag, the request, the clock and a session checker. It does no I/O of its
// own except through the SessionChecker, which it consults last and only
// when every cheaper rule has said no.
//
// authz.go holds the rules in order; path.go how a path is read and
// matched (dot segments, prefixes, language prefixes, servlet readings);
// languages.go Django's language codes; cookie.go how a Cookie header is
// searched; verdict.go what a session checker answers.
package authz

import (
	"net/netip"
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
	Superuser                 // a Django session [session] allow lets through (superuser by default)
	Redirected                // no rule allowed the request
)

var reasonText = [...]string{
	Inactive:    "maintenance inactive",
	AllowedPath: "always-allowed path",
	AdminPath:   "admin path",
	Whitelisted: "whitelisted IP",
	WindowAllow: "IP allowed for this maintenance window",
	Token:       "valid bypass token",
	Superuser:   "allowed session",
	Redirected:  "maintenance active",
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
	AllowPaths []string // prefixes, segment-bounded; trailing "/" optional
	AdminPaths []string // as AllowPaths, and also behind a /<lang>/ prefix
	// Languages are the <lang> codes admin paths may stand behind, matched
	// exactly (config key languages); nil: no language prefix.
	Languages Languages
	// ServletPaths (backend_paths = "servlet") also reads ";parameters"
	// and backslashes as a Java servlet container or IIS does.
	ServletPaths   bool
	AllowAdmin     bool // allow_admin_during_maintenance
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
	// Paths are Flag.AllowPaths as checked (each starts with "/"):
	// prefixes open for this window only, matched like AllowPaths.
	Paths []string
	// Server is the server-wide window behind a site's own (nil for the
	// server-wide window itself): a site is in maintenance while either
	// is active, and the --allow and --allow-path lists of each active
	// one count.
	Server *Window
}

// Active reports whether maintenance is on at now: the window's own flag,
// or the server-wide one behind it.
func (w *Window) Active(now time.Time) bool {
	return w.Own(now) || (w != nil && w.Server.Own(now))
}

// Own reports whether the window's own flag is present and open at now,
// whatever the server-wide flag says.
func (w *Window) Own(now time.Time) bool {
	return w != nil && w.Present && w.Flag.ActiveAt(now)
}

// allows reports whether an active window's --allow list holds client.
func (w *Window) allows(client netip.Addr, now time.Time) bool {
	if w.Own(now) && w.Allow.Contains(client) {
		return true
	}
	return w.Server != nil && w.Server.allows(client, now)
}

// pathOpen reports whether an active window's --allow-path list covers
// the cleaned path.
func (w *Window) pathOpen(clean string, now time.Time) bool {
	if len(w.Paths) > 0 && w.Own(now) && MatchPrefix(w.Paths, clean) {
		return true
	}
	return w.Server != nil && w.Server.pathOpen(clean, now)
}

// maxTokenCookies bounds the work a request with many copies of the token
// cookie can cause.
const maxTokenCookies = 4

// Decide applies the rules of DESIGN.md in order. sessions may be nil.
func Decide(p *Policy, w *Window, r Request, now time.Time, sessions SessionChecker) Decision {
	if !w.Active(now) {
		return Decision{Allow: true, Reason: Inactive}
	}
	if reason, detail, ok := p.pathRule(r.Path, w, now); ok {
		return Decision{Allow: true, Reason: reason, Detail: detail}
	}
	client := whitelist.ClientIP(r.Peer, r.XFF, p.TrustedProxies)
	d := Decision{Client: client}
	if p.Whitelist.Contains(client) {
		d.Allow, d.Reason = true, Whitelisted
		return d
	}
	if w.allows(client, now) {
		d.Allow, d.Reason = true, WindowAllow
		return d
	}
	if r.Cookie != "" {
		if p.TokenKey != nil {
			var why string
			for n, from := 0, 0; n < maxTokenCookies; n++ {
				v, next, ok := cookieAt(r.Cookie, p.TokenCookie, from)
				if !ok {
					break
				}
				from = next
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
				if sv.Pass {
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
