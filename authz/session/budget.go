package session

import (
	"hash/maphash"
	"net/netip"
	"time"
)

// Per-source budget. One client address (IPv4 /32, IPv6 /64: what one
// host or one site's network holds) may start at most a fifth of the
// global miss rate, at least 1 a second, with a burst of two seconds'
// worth; and it may hold at most half of the lookups in flight. So one
// source flooding random session ids (at any rate) leaves 4/5 of the
// global budget, and half the lookup slots, to everyone else: a superuser
// from another address is still looked up. At the default miss_rate 50:
// 10 lookups a second per source, burst 20.
//
// A legitimate source rarely comes near it: each cookie costs one lookup
// per cache_ttl (superusers) or negative_ttl (everyone else), so an office
// behind one NAT address reaches 10 a second with about 100 logged-in
// people at negative_ttl 10s; and refusing a lookup only turns away a
// superuser not yet cached, who passes on a later request.
const (
	sourceShare = 5 // a source gets 1/sourceShare of the global rate
	// sourceSlots buckets, 16 bytes each (64 KiB): sources are hashed
	// into them with a per-process random seed, so memory is bounded
	// whatever the number of addresses, and an attacker cannot aim at
	// the slot of someone else's address. Two sources share a bucket by
	// chance, 1 in 4096.
	sourceSlots = 4096
)

// bucket is a token bucket. The zero value is full.
type bucket struct {
	spent float64 // tokens below burst
	at    int64   // UnixNano of the last refill
}

// refill returns the tokens available at now.
func (b *bucket) refill(now int64, rate, burst float64) float64 {
	if b.at != 0 {
		b.spent = max(0, b.spent-float64(now-b.at)/1e9*rate)
	}
	b.at = now
	return burst - b.spent
}

// budget is the global miss-rate bucket and the per-source ones. Guarded
// by Checker.mu.
type budget struct {
	rate, burst       float64
	srcRate, srcBurst float64
	global            bucket
	seed              maphash.Seed
	sources           [sourceSlots]bucket
}

func newBudget(rate float64) *budget {
	src := max(1, rate/sourceShare)
	return &budget{
		rate: rate, burst: max(1, rate),
		srcRate: src, srcBurst: 2 * src,
		seed: maphash.MakeSeed(),
	}
}

// source is the slot of a client address's bucket.
func (b *budget) source(a netip.Addr) uint16 {
	var k [9]byte // family, then 4 or 8 address bytes
	if a = a.Unmap(); a.Is4() {
		v := a.As4()
		k[0] = 4
		copy(k[1:], v[:])
	} else if a.Is6() {
		v := a.As16()
		k[0] = 6
		copy(k[1:], v[:8]) // the /64
	}
	return uint16(maphash.Comparable(b.seed, k) % sourceSlots)
}

// take spends one token from the source's bucket and one from the global
// one, or none when either is empty.
func (b *budget) take(src uint16, now time.Time) bool {
	n := now.UnixNano()
	s := &b.sources[src]
	if s.refill(n, b.srcRate, b.srcBurst) < 1 || b.global.refill(n, b.rate, b.burst) < 1 {
		return false
	}
	s.spent++
	b.global.spent++
	return true
}
