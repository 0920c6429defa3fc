package session

import "sync/atomic"

// Stats are what a Checker has done since Open, for the map's counters
// (stats_file): the operator sees whether sessions are answered from the
// cache or cost the database, and whether the database fails.
type Stats struct {
	Lookups   uint64 // lookups started (each makes one to three queries)
	CacheHits uint64 // answers from the cache, allowed or not
	DBErrors  uint64 // lookups the database failed (unreachable, locked, timed out, error)
}

// counters are the running Stats besides Checker.lookups: one atomic add
// where a cache hit is answered (Check) and where a lookup fails (run),
// so that counting costs the hot path no lock.
type counters struct {
	cacheHits atomic.Uint64
	dbErrors  atomic.Uint64
}

// Stats returns the counts so far. It is safe to call at any time, also
// after Close, from any goroutine.
func (c *Checker) Stats() Stats {
	return Stats{
		Lookups:   uint64(c.lookups.Load()),
		CacheHits: c.counts.cacheHits.Load(),
		DBErrors:  c.counts.dbErrors.Load(),
	}
}

// Add returns the sum of s and o (the checkers a reload replaced, and the
// one in force).
func (s Stats) Add(o Stats) Stats {
	return Stats{Lookups: s.Lookups + o.Lookups, CacheHits: s.CacheHits + o.CacheHits, DBErrors: s.DBErrors + o.DBErrors}
}
