package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maintgate/maintgate/authz"
)

// result is the outcome of a lookup.
type result struct {
	v     authz.Verdict
	until time.Time // positive answers: the session's own expiry
	cache bool      // a definite answer, not a failure
	fail  *failure  // the database failed
}

// safeLookup turns a panic (a driver bug, a corrupt row) into an answer:
// the process that Apache depends on must not die of one cookie.
func (c *Checker) safeLookup(ctx context.Context, cookie string, sess *Session, until time.Time) (r result) {
	defer func() {
		if p := recover(); p != nil {
			f := newFailure(failError, fmt.Errorf("panic: %v", p), "internal error")
			r = result{v: authz.Verdict{Reason: f.reason}, fail: f}
		}
	}()
	return c.lookup(ctx, cookie, sess, until)
}

// lookup is Django's SessionStore.load and get_user: the session row (not
// for signed cookies, whose session the caller decoded), then the user.
func (c *Checker) lookup(ctx context.Context, cookie string, sess *Session, until time.Time) result {
	if sess == nil {
		data, exp, err := c.store.session(ctx, cookie)
		if errors.Is(err, errNotFound) {
			return negative(ReasonNoSession, "")
		}
		if err != nil {
			return c.failed(ctx, err)
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
		r := c.failed(ctx, err)
		r.v.UserID = sess.UserID
		return r
	}
	// Django's get_user: the password hash ties the session to the
	// password it was made with.
	if len(c.secrets) > 0 && !VerifyAuthHash(sess.AuthHash, u.Password, c.secrets) {
		return negative(ReasonHashMismatch, sess.UserID)
	}
	reason, pass, err := c.admit(ctx, sess.UserID, u)
	if err != nil {
		r := c.failed(ctx, err)
		r.v.UserID = sess.UserID
		return r
	}
	if !pass {
		return negative(reason, sess.UserID)
	}
	return result{v: authz.Verdict{Pass: true, UserID: sess.UserID, Reason: reason}, until: until, cache: true}
}

func negative(reason, userID string) result {
	return result{v: authz.Verdict{Reason: reason, UserID: userID}, cache: true}
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

// failed makes the answer for a database error: not cached, its kind
// read by the breaker. After Close it is "session checker closed", no
// failure of the database.
func (c *Checker) failed(ctx context.Context, err error) result {
	if c.ctx.Err() != nil {
		return result{v: authz.Verdict{Reason: ReasonClosed}}
	}
	kind := classify(ctx, err)
	msg := shortError(err)
	if ctx.Err() != nil {
		msg = fmt.Sprintf("no answer within %v", c.o.QueryTimeout)
	}
	f := newFailure(kind, err, msg)
	return result{v: authz.Verdict{Reason: f.reason}, fail: f}
}
