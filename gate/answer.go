package gate

import (
	"errors"
	"strconv"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/rewritemap"
)

// Answer implements rewritemap.Answerer.
func (g *Gate) Answer(l rewritemap.Line) string {
	now := g.now()
	w := g.win.Load()
	if string(l.Text) == "@retry-after" {
		return retryAfter(w, now)
	}
	if !w.Active(now) {
		// Apache asks only while its state map says on, and `maintgate
		// on` writes the flag before the state map; so a line here while
		// the flag looks off most likely follows a flag just set. Look
		// now (one stat) rather than at the next tick, so that the very
		// first request after `on` is gated.
		g.refreshFlag(false)
		if w = g.win.Load(); !w.Active(now) {
			return rewritemap.Allow
		}
	}
	s := g.snap.Load()
	k, err := g.parser.ParseLine(l)
	if err != nil {
		return g.unreadableAnswer(s, l, err)
	}
	d := authz.Decide(s.Policy, w, authz.Request{Peer: k.Peer, Path: k.Path, XFF: k.XFF, Cookie: k.Cookie}, now, sessionsOf(s))
	g.pending = pendingLog{kind: logDecision, key: k, d: d}
	if d.Allow {
		return rewritemap.Allow
	}
	return rewritemap.Redirect
}

// Recover implements rewritemap.Answerer: a panic is a failure, answered
// like an unreadable line.
func (g *Gate) Recover(l rewritemap.Line, v any) string {
	g.Logger().Error().Interface("panic", v).Msg("decision panicked; answered as on_error")
	if s := g.snap.Load(); s != nil && s.Policy.OnError {
		return rewritemap.Allow
	}
	return rewritemap.Redirect
}

// retryAfter answers the "@retry-after" key, which the shipped 503 config
// asks for its Retry-After header: whole seconds until the flag's end time,
// at least 1, or "none" when no end time is set.
func retryAfter(w *authz.Window, now time.Time) string {
	if !w.Active(now) || w.Flag.Until.IsZero() {
		return "none"
	}
	secs := int64(w.Flag.Until.Sub(now).Seconds() + 0.999)
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

// Decide runs the decision for one request outside the map loop (`check`).
func (g *Gate) Decide(r authz.Request) authz.Decision {
	s := g.snap.Load()
	return authz.Decide(s.Policy, g.win.Load(), r, g.now(), sessionsOf(s))
}
