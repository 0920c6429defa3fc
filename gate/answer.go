package gate

import (
	"bytes"
	"errors"
	"strconv"
	"time"
	"unsafe"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/rewritemap"
)

// Answer implements rewritemap.Answerer.
func (g *Gate) Answer(l rewritemap.Line) string {
	now := g.now()
	s := g.snap.Load()
	if rest, ok := bytes.CutPrefix(l.Text, retryKey); ok && (len(rest) == 0 || rest[0] == ' ' && (len(rest) == 1 || config.ValidSiteName(string(rest[1:])))) {
		return retryAfter(s.siteOrDefault(string(bytes.TrimPrefix(rest, space))).flag.win.Load(), now)
	}
	st := s.Default
	if len(s.SiteList) > 1 {
		name, lost := rewritemap.SiteOf(l)
		if lost {
			return g.siteLostAnswer(s, l, now)
		}
		st = g.siteOfLine(s, name, now)
	}
	w := st.flag.win.Load()
	if !w.Active(now) {
		// Apache asks only while its state map says on for the site, and
		// `maintgate on` writes the flag before the state map; so a line
		// here while the site looks up most likely follows a flag just
		// set. Look now (one stat of the site's flag, one of the
		// server-wide one) rather than at the next tick, so that the very
		// first request after `on` is gated.
		g.refreshSite(s, st)
		if w = st.flag.win.Load(); !w.Active(now) {
			if len(s.SiteList) == 1 {
				// A vhost naming a site on a server without sites:
				// Apache asks for its every request (the state map has
				// no line for it); say so.
				name, _ := rewritemap.SiteOf(l)
				g.siteOfLine(s, name, now)
			}
			g.stats.answered(authz.Inactive)
			return rewritemap.Allow
		}
	}
	k, err := g.parser.ParseLine(l)
	if err != nil {
		return g.unreadableAnswer(s, l, err)
	}
	if len(s.SiteList) == 1 && k.Site != "" {
		g.siteOfLine(s, unsafe.Slice(unsafe.StringData(k.Site), len(k.Site)), now)
	}
	d := authz.Decide(st.Policy, w, authz.Request{Peer: k.Peer, Path: k.Path, XFF: k.XFF, Cookie: k.Cookie}, now, sessionsOf(s))
	g.pending = pendingLog{kind: logDecision, key: k, d: d, site: st}
	g.stats.answered(d.Reason)
	if d.Allow {
		return rewritemap.Allow
	}
	return rewritemap.Redirect
}

var (
	retryKey = []byte("@retry-after")
	space    = []byte(" ")
)

// siteOfLine is the site a key line names; an unknown name (a typo in
// one vhost's Define, or not a site name at all) is decided as default,
// never as up or down on its own, and logged at most once a minute.
func (g *Gate) siteOfLine(s *Snapshot, name []byte, now time.Time) *Site {
	if len(name) == 0 || string(name) == config.DefaultSite {
		return s.Default
	}
	if st, ok := s.Sites[string(name)]; ok {
		return st
	}
	if n, due := g.unknown.due(name, now); due {
		g.pendingSite = n
	}
	return s.Default
}

// errSiteLost answers a line cut at MaxLine while sites are configured.
var errSiteLost = &rewritemap.ParseError{Msg: "line longer than " + strconv.Itoa(rewritemap.MaxLine) + " bytes: its site field was cut off", Cut: true}

// siteLostAnswer answers a line whose site cannot be known on a server
// with sites (cut at MaxLine, or more than five fields): it must not be
// decided as the site default, which may be up while the site it came
// from is down. While no site is in maintenance it is allowed; otherwise
// it is unreadable (a cut line is redirected, never on_error).
func (g *Gate) siteLostAnswer(s *Snapshot, l rewritemap.Line, now time.Time) string {
	if !anyActive(s, now) {
		g.refreshFlags(false)
		if !anyActive(s, now) {
			g.stats.answered(authz.Inactive)
			return rewritemap.Allow
		}
	}
	if _, err := g.parser.ParseLine(l); err != nil {
		return g.unreadableAnswer(s, l, err)
	}
	return g.unreadableAnswer(s, l, errSiteLost)
}

func anyActive(s *Snapshot, now time.Time) bool {
	for _, st := range s.SiteList {
		if st.flag.win.Load().Active(now) {
			return true
		}
	}
	return false
}

// Recover implements rewritemap.Answerer: a panic is a failure, answered
// like an unreadable line.
func (g *Gate) Recover(l rewritemap.Line, v any) string {
	g.Logger().Error().Interface("panic", v).Msg("decision panicked; answered as on_error")
	g.stats.unreadable.Add(1)
	if s := g.snap.Load(); s != nil && s.Policy.OnError {
		return rewritemap.Allow
	}
	return rewritemap.Redirect
}

// retryAfter answers the "@retry-after [SITE]" key, which the shipped 503
// config asks for its Retry-After header: whole seconds until the site is
// up again (the later end of its own and the server-wide window, when
// both are active), at least 1, or "none" when an active window has no
// end time. Without SITE (or with an unknown one): the server-wide window.
func retryAfter(w *authz.Window, now time.Time) string {
	if !w.Active(now) {
		return "none"
	}
	var until time.Time
	for _, x := range [2]*authz.Window{w, w.Server} {
		if !x.Own(now) {
			continue
		}
		if x.Flag.Until.IsZero() {
			return "none"
		}
		if x.Flag.Until.After(until) {
			until = x.Flag.Until
		}
	}
	secs := int64(until.Sub(now).Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}

func sessionsOf(s *Snapshot) authz.SessionChecker {
	if s.Sessions == nil {
		return nil
	}
	return s.Sessions
}

// unreadableAnswer answers a line that could not be parsed: on_error,
// except for a line cut for length, which is always redirected.
func (g *Gate) unreadableAnswer(s *Snapshot, l rewritemap.Line, err error) string {
	g.stats.unreadable.Add(1)
	ans := rewritemap.Redirect
	var pe *rewritemap.ParseError
	if s.Policy.OnError && !(errors.As(err, &pe) && pe.Cut) {
		ans = rewritemap.Allow
	}
	if g.unreadable.allow(g.now()) {
		g.pending = pendingLog{kind: logUnreadable, why: err.Error(), size: len(l.Text), answer: ans, suppressed: g.unreadable.takeSuppressed()}
	}
	return ans
}

// Decide runs the decision for one request of the site default outside
// the map loop (`check`).
func (g *Gate) Decide(r authz.Request) authz.Decision {
	return g.DecideSite(config.DefaultSite, r)
}

// unknownSites remembers when each unknown site name was last warned
// about, so each is logged at most once a minute. Apache sets the field
// from its config, so names are few; the map is bounded all the same.
type unknownSites struct {
	last map[string]int64 // name -> unix second of its last warning
}

const (
	unknownEvery = 60  // seconds between two warnings about one name
	unknownKeep  = 256 // names remembered; past it, one warning a minute for all others
	maxSiteShown = 64  // bytes of an unknown name kept and logged (a name is at most 63)
	otherNames   = "\x00other"
)

// due reports whether a warning about name is due now, and the name as
// the log shows it: a copy of at most maxSiteShown bytes, or otherNames
// for the shared slot of the names past unknownKeep. It allocates only
// when a warning is due.
func (u *unknownSites) due(name []byte, now time.Time) (string, bool) {
	if len(name) > maxSiteShown {
		name = name[:maxSiteShown]
	}
	t := now.Unix()
	if at, ok := u.last[string(name)]; ok {
		if t-at < unknownEvery {
			return "", false
		}
	} else if len(u.last) >= unknownKeep {
		for n, at := range u.last {
			if t-at >= unknownEvery {
				delete(u.last, n)
			}
		}
		if len(u.last) >= unknownKeep {
			if at, ok := u.last[otherNames]; ok && t-at < unknownEvery {
				return "", false
			}
			u.last[otherNames] = t
			return otherNames, true
		}
	}
	if u.last == nil {
		u.last = map[string]int64{}
	}
	n := string(name)
	u.last[n] = t
	return n, true
}
