package whitelist

import (
	"cmp"
	"net/netip"
	"slices"
)

// List is an immutable set of prefixes. The zero value and nil are empty
// lists. Safe for concurrent use.
type List struct {
	prefixes []netip.Prefix // as given, for Prefixes and Len
	// Sorted, disjoint, non-adjacent ranges: a lookup is one binary search
	// whatever the prefix lengths, and overlapping entries cost nothing.
	v4 []range4
	v6 []range6
}

type range4 struct{ lo, hi uint32 }

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

type range6 struct{ lo, hi u128 }

// Len returns the number of entries, overlapping or not.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.prefixes)
}

// Prefixes returns a copy of the entries as parsed, in input order, so that
// `maintgate config check` shows what will be matched.
func (l *List) Prefixes() []netip.Prefix {
	if l == nil {
		return nil
	}
	return slices.Clone(l.prefixes)
}

// Contains reports whether a, unmapped, is inside any entry. It does not
// allocate and costs one binary search over the merged ranges.
func (l *List) Contains(a netip.Addr) bool {
	if l == nil {
		return false
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		r := l.v4
		i, j := 0, len(r)
		for i < j { // first range with lo > x
			h := int(uint(i+j) >> 1)
			if r[h].lo <= x {
				i = h + 1
			} else {
				j = h
			}
		}
		return i > 0 && x <= r[i-1].hi
	}
	if a.Is6() {
		x := toU128(a)
		r := l.v6
		i, j := 0, len(r)
		for i < j {
			h := int(uint(i+j) >> 1)
			if !x.less(r[h].lo) {
				i = h + 1
			} else {
				j = h
			}
		}
		return i > 0 && !r[i-1].hi.less(x)
	}
	return false
}

func toU128(a netip.Addr) u128 {
	b := a.As16()
	var v u128
	for i := range 8 {
		v.hi = v.hi<<8 | uint64(b[i])
		v.lo = v.lo<<8 | uint64(b[8+i])
	}
	return v
}

func build(ps []netip.Prefix) *List {
	l := &List{prefixes: ps}
	for _, p := range ps {
		if p.Addr().Is4() {
			b := p.Addr().As4()
			lo := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			l.v4 = append(l.v4, range4{lo, lo | ^uint32(0)>>p.Bits()})
			continue
		}
		lo, hi := toU128(p.Addr()), toU128(p.Addr())
		if b := p.Bits(); b >= 64 {
			hi.lo |= ^uint64(0) >> (b - 64)
		} else {
			hi.hi |= ^uint64(0) >> b
			hi.lo = ^uint64(0)
		}
		l.v6 = append(l.v6, range6{lo, hi})
	}
	slices.SortFunc(l.v4, func(a, b range4) int { return cmp.Compare(a.lo, b.lo) })
	out4 := l.v4[:0]
	for _, r := range l.v4 {
		if k := len(out4) - 1; k >= 0 && (r.lo <= out4[k].hi || r.lo-1 == out4[k].hi) {
			out4[k].hi = max(out4[k].hi, r.hi)
			continue
		}
		out4 = append(out4, r)
	}
	l.v4 = slices.Clip(out4)
	slices.SortFunc(l.v6, func(a, b range6) int {
		if a.lo.less(b.lo) {
			return -1
		}
		if b.lo.less(a.lo) {
			return 1
		}
		return 0
	})
	out6 := l.v6[:0]
	for _, r := range l.v6 {
		if k := len(out6) - 1; k >= 0 && (!out6[k].hi.less(r.lo) || r.lo == out6[k].hi.next()) {
			if out6[k].hi.less(r.hi) {
				out6[k].hi = r.hi
			}
			continue
		}
		out6 = append(out6, r)
	}
	l.v6 = slices.Clip(out6)
	return l
}

// next returns a+1, wrapping at the top (which build never relies on: a
// range ending at the top swallows every later one through the first test).
func (a u128) next() u128 {
	a.lo++
	if a.lo == 0 {
		a.hi++
	}
	return a
}
