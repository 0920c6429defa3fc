package session

import (
	"context"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
)

// flight is one lookup in flight; later misses for the same cookie join it
// instead of querying again.
type flight struct {
	done  chan struct{}
	v     authz.Verdict // set before done is closed
	start time.Time     // wall and monotonic: its age says whether the database is stalled
	src   uint16        // the budget slot of the client that started it
	probe bool          // the breaker's probe: nobody waits for it
}

// maxWaited bounds Checker.waited. Entries leave it when their lookup is
// cached or after negative_ttl; beyond the bound, misses do not wait.
const maxWaited = 4096

// miss starts a lookup for k, or joins the one in flight, and waits for it
// at most LookupTimeout, if it may wait at all (mayWait).
func (c *Checker) miss(k cacheKey, client netip.Addr, cookie string, sess *Session, until, now time.Time) authz.Verdict {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return authz.Verdict{Reason: ReasonClosed}
	}
	fl := c.flights[k]
	if fl == nil {
		var refused string
		if fl, refused = c.start(k, client, cookie, sess, until, now); fl == nil {
			c.mu.Unlock()
			c.logRefused(refused, now)
			return authz.Verdict{Reason: refused}
		}
	}
	wait := !fl.probe && c.mayWait(k, now)
	reason := c.brk.reason()
	c.mu.Unlock()
	if !wait {
		return authz.Verdict{Reason: reason}
	}
	t := time.NewTimer(c.o.LookupTimeout)
	defer t.Stop()
	select {
	case <-fl.done:
		return fl.v
	case <-t.C:
		return authz.Verdict{Reason: ReasonTimeout}
	}
}

// start starts a background lookup for k, if the breaker, the bound on
// lookups in flight and the budgets allow one; else it returns the reason
// of the refusal. Called with c.mu held.
func (c *Checker) start(k cacheKey, client netip.Addr, cookie string, sess *Session, until, now time.Time) (*flight, string) {
	probe, reason, ok := c.brk.admit(now)
	if !ok {
		return nil, reason
	}
	src := c.budget.source(client)
	if n, ofSrc := c.inFlight(src); n >= c.maxInflight || ofSrc >= max(1, c.maxInflight/2) {
		return c.unprobe(probe, ReasonBusy)
	}
	if !c.budget.take(src, now) {
		return c.unprobe(probe, ReasonRateLimit)
	}
	fl := &flight{done: make(chan struct{}), start: time.Now(), src: src, probe: probe}
	c.flights[k] = fl
	c.wg.Add(1)
	c.lookups.Add(1)
	go c.run(k, fl, cookie, sess, until)
	return fl, ""
}

// unprobe gives the probe back to the breaker when it could not start.
func (c *Checker) unprobe(probe bool, reason string) (*flight, string) {
	if probe {
		c.brk.probing = false
	}
	return nil, reason
}

// inFlight counts the lookups in flight, and those started by src. At
// most maxInflight: a loop is cheaper than keeping counts in step.
func (c *Checker) inFlight(src uint16) (n, ofSrc int) {
	for _, fl := range c.flights {
		if fl.src == src {
			ofSrc++
		}
	}
	return len(c.flights), ofSrc
}

// mayWait says whether a request for k may wait for its lookup, and if so
// notes that k waited. It may while the database is healthy (breaker.go),
// no lookup has been in flight longer than LookupTimeout (a lock or a
// stall: another one would wait as long), and k has not waited within
// negative_ttl. Called with c.mu held.
func (c *Checker) mayWait(k cacheKey, now time.Time) bool {
	if !c.brk.healthy(now) {
		return false
	}
	for _, fl := range c.flights {
		if time.Since(fl.start) > c.o.LookupTimeout {
			return false
		}
	}
	n := now.UnixNano()
	if until, ok := c.waited[k]; ok && n < until {
		return false
	}
	if len(c.waited) >= maxWaited && n-c.sweptAt > int64(time.Second) {
		c.sweptAt = n
		for w, until := range c.waited {
			if n >= until {
				delete(c.waited, w)
			}
		}
	}
	if len(c.waited) >= maxWaited {
		return false
	}
	c.waited[k] = n + int64(c.o.NegativeTTL)
	return true
}

// run performs one lookup in the background, fills the cache, tells the
// breaker, and wakes every Check waiting on it.
func (c *Checker) run(k cacheKey, fl *flight, cookie string, sess *Session, until time.Time) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.o.QueryTimeout)
	r := c.safeLookup(ctx, cookie, sess, until)
	cancel()
	if r.fail != nil {
		c.counts.dbErrors.Add(1)
	}
	slow := time.Since(fl.start) > c.o.LookupTimeout
	now := c.now()
	if r.cache {
		c.cache.put(k, r.v, r.until, now)
	}
	c.mu.Lock()
	delete(c.flights, k)
	if r.cache {
		delete(c.waited, k)
	}
	if r.v.Reason != ReasonClosed {
		c.brk.done(r.fail, slow, fl.probe, now)
	}
	c.mu.Unlock()
	fl.v = r.v
	close(fl.done)
	c.logResult(k, r)
}

// logRefused logs a miss answered without a lookup because a bound was
// reached; at most once a second of each.
func (c *Checker) logRefused(reason string, now time.Time) {
	lg := c.log()
	switch reason {
	case ReasonBusy:
		c.logBusy.event(lg, zerolog.WarnLevel, now).Int("in_flight", c.maxInflight).Msg("session lookups: too many in flight (the database is slow, or one address sends many new cookies); answering not-allowed without a query")
	case ReasonRateLimit:
		c.logRate.event(lg, zerolog.WarnLevel, now).Float64("miss_rate", c.o.MissRate).Msg("session lookups over the miss rate limit (global, or one address's share): answering not-allowed without a query")
	}
}
