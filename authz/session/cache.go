package session

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
	"unique"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/maintgate/maintgate/authz"
)

// cacheKey is the first 128 bits of SHA-256 of the cookie value: the cache
// never holds a cookie, and a memory dump of it gives none back.
type cacheKey [16]byte

func keyOf(cookie string) cacheKey {
	sum := sha256.Sum256([]byte(cookie))
	return cacheKey(sum[:16])
}

// String is the short form used in logs: enough to tell two cookies apart
// in a log, not enough to find either.
func (k cacheKey) String() string { return hex.EncodeToString(k[:4]) }

// entry is a cached answer, kept small: the cache holds up to cache_size of
// them. The user id and reason are interned (a user's sessions share one
// id, and reasons are a small set), so an entry holds two pointers, not two strings
// of its own. until bounds it by the session's own expiry, which can come
// before the cache's TTL.
type entry struct {
	until  int64 // UnixNano
	userID unique.Handle[string]
	reason unique.Handle[string]
}

// verdict is the cached answer; pass says which cache held it.
func (e entry) verdict(pass bool) authz.Verdict {
	return authz.Verdict{Pass: pass, UserID: e.userID.Value(), Reason: e.reason.Value(), Cached: true}
}

// cache holds definite answers: positive ones in one LRU, negative ones in
// the other, so a flood of unknown cookies cannot evict the users let through.
// Each LRU is safe for concurrent use on its own.
type cache struct {
	pos, neg    *expirable.LRU[cacheKey, entry]
	ttl, negTTL time.Duration
}

// newCache makes both LRUs, whose cleanup goroutines outlive the cache
// (golang-lru v2.0.7 cannot stop them).
func newCache(size int, ttl, negTTL time.Duration) *cache {
	return &cache{
		pos:    expirable.NewLRU[cacheKey, entry](size, nil, ttl),
		neg:    expirable.NewLRU[cacheKey, entry](size, nil, negTTL),
		ttl:    ttl,
		negTTL: negTTL,
	}
}

// get returns the cached answer for k, if it is still good.
func (c *cache) get(k cacheKey, now time.Time) (authz.Verdict, bool) {
	for i, lru := range [...]*expirable.LRU[cacheKey, entry]{c.pos, c.neg} {
		e, ok := lru.Get(k)
		if !ok {
			continue
		}
		if now.UnixNano() >= e.until {
			lru.Remove(k)
			continue
		}
		return e.verdict(i == 0), true
	}
	return authz.Verdict{}, false
}

// put caches a definite answer. A positive one lasts cache_ttl, never past
// sessionEnd (the session's own expiry, when known); a negative one
// negative_ttl.
func (c *cache) put(k cacheKey, v authz.Verdict, sessionEnd, now time.Time) {
	e := entry{userID: unique.Make(v.UserID), reason: unique.Make(v.Reason)}
	if v.Pass {
		until := now.Add(c.ttl)
		if !sessionEnd.IsZero() && sessionEnd.Before(until) {
			until = sessionEnd
		}
		e.until = until.UnixNano()
		c.neg.Remove(k)
		c.pos.Add(k, e)
		return
	}
	e.until = now.Add(c.negTTL).UnixNano()
	c.pos.Remove(k)
	c.neg.Add(k, e)
}

func (c *cache) purge() {
	c.pos.Purge()
	c.neg.Purge()
}
