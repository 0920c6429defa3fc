package session

import "time"

// breaker remembers how the database has been doing, and from that decides
// two things for a cache miss: whether it may query at all, and whether a
// request may wait for the answer. Its fields are guarded by Checker.mu.
//
// After a failure that trips it (unreachable, locked, timed out) no query
// is made for a pause (Options.RetryInterval, doubling while it keeps
// failing, up to maxBackoff); the first miss after the pause starts one
// lookup, the probe, that nobody waits for, while every other miss is
// answered with the failure at once. The probe's success closes the
// breaker; its failure starts a longer pause.
//
// Waiting is allowed only while the database is healthy (see healthy):
// when it is not, a miss answers at once and its lookup, if it may start
// one, runs in the background and fills the cache.
type breaker struct {
	retry, maxBackoff time.Duration
	// calm is how long after a tripping failure misses still do not wait,
	// even if a lookup of another table or row succeeded since: a lock
	// held on auth_user does not stop a query of django_session.
	calm time.Duration

	streak    int       // tripping failures in a row; 0: closed
	until     time.Time // while streak > 0: no query before this
	probing   bool      // the probe after a pause is in flight
	calmUntil time.Time
	last      *failure // the latest failure, for the answer and the log
	failed    bool     // the latest lookup failed (any kind)
	slow      bool     // the latest lookup took longer than LookupTimeout
}

func newBreaker(retry, calm time.Duration) breaker {
	return breaker{retry: retry, maxBackoff: 4 * retry, calm: calm}
}

// admit says whether a miss may start a lookup now, and whether that
// lookup is the probe. When it may not, reason is the answer.
func (b *breaker) admit(now time.Time) (probe bool, reason string, ok bool) {
	if b.streak == 0 {
		return false, "", true
	}
	if b.probing || now.Before(b.until) {
		return false, b.last.reason, false
	}
	b.probing = true
	return true, "", true
}

// done records a finished lookup: f is nil when the database answered.
func (b *breaker) done(f *failure, slow, probe bool, now time.Time) {
	if probe {
		b.probing = false
	}
	b.failed, b.slow = f != nil, slow
	if f == nil {
		b.streak = 0
		return
	}
	b.last = f
	if !f.kind.trips() {
		return
	}
	b.streak++
	b.until = now.Add(b.backoff())
	b.calmUntil = now.Add(b.calm)
}

// backoff is the pause after the streak-th tripping failure in a row:
// retry, 2×, 4×, then 4× again.
func (b *breaker) backoff() time.Duration {
	d := b.retry
	for i := 1; i < b.streak && d < b.maxBackoff; i++ {
		d *= 2
	}
	return min(d, b.maxBackoff)
}

// healthy says whether the latest lookup answered in time and no tripping
// failure is recent; Checker.healthy adds the lookups still in flight.
func (b *breaker) healthy(now time.Time) bool {
	return b.streak == 0 && !b.failed && !b.slow && !now.Before(b.calmUntil)
}

// reason is the answer to a miss that does not wait: the latest failure
// while the database is failing, else "lookup pending".
func (b *breaker) reason() string {
	if b.failed || b.streak > 0 {
		return b.last.reason
	}
	return ReasonPending
}
