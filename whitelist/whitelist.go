// Package whitelist parses IP and CIDR lists and answers, without
// allocating, whether an address is on one. It also resolves the client
// address of a request that came through trusted proxies.
//
// A List is built once (from the config's whitelist key, a whitelist file, or
// both merged) and never changes afterwards, so a reload builds a new List and
// swaps it in while readers keep using the old one without locks.
//
// Entries are single addresses ("192.168.1.100", "::1") or CIDR blocks
// ("10.0.0.0/8", "2001:db8::/32"). IPv4-mapped IPv6 forms ("::ffff:10.1.2.3",
// "::ffff:10.0.0.0/104") are stored as the IPv4 address or block they name,
// and addresses are unmapped before matching, so an IPv4 client matches an
// IPv4 entry whichever way the socket reported it. An IPv6 block never
// matches an IPv4 client, even ::/0: to allow every IPv4 client, write
// 0.0.0.0/0.
//
// Rejected entries are skipped with a Problem, never fatal: the list is a
// security boundary and a bad entry must neither stop the server nor widen
// the list. In particular a block with host bits set ("10.0.0.1/8") is
// rejected rather than masked: it is far more often a typo (for 10.0.0.1/32,
// or 10.0.0.0/28) than a wish to open all of 10.0.0.0/8.
package whitelist

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/maintgate/maintgate/internal/regfile"
)

// Problem is one bad entry, skipped. Its Error text is meant to be logged as
// is at WARNING, so it names the place (file and line, or config key and
// index) and the entry, as an operator needs to fix it.
type Problem struct {
	File  string // whitelist file, or the config file for Key entries
	Line  int    // 1-based line in File; 0 for an entry of a config list
	Key   string // config key of the list, when Line is 0
	Index int    // 0-based index in the config list, when Line is 0
	Text  string // the entry, trimmed (cut short when it is very long)
	Err   error  // why it was rejected
}

// Error renders the problem on one line, e.g.
//
//	whitelist /etc/maintgate/wl.txt:7: "10.0.0/8" is not an IP or CIDR; line skipped
//	config /etc/maintgate/maintgate.toml: whitelist[2]: "10.0.0/8" is not an IP or CIDR; entry skipped
func (p Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("whitelist %s:%d: %v; line skipped", p.File, p.Line, p.Err)
	}
	if p.File == "" {
		return fmt.Sprintf("%s[%d]: %v; entry skipped", p.Key, p.Index, p.Err)
	}
	return fmt.Sprintf("config %s: %s[%d]: %v; entry skipped", p.File, p.Key, p.Index, p.Err)
}

func (p Problem) Unwrap() error { return p.Err }

// ParseEntry parses one whitelist entry: an IP address (a block of one
// address: /32 or /128) or a CIDR block. Surrounding ASCII white space is
// trimmed. IPv4-mapped IPv6 forms become IPv4. Zones are rejected because a
// zone is not part of what a client address is matched on, and a block with
// host bits set is rejected (see the package comment) with an error that
// suggests both readings.
func ParseEntry(s string) (netip.Prefix, error) {
	t := trimSpace(s)
	if strings.IndexByte(t, '%') >= 0 {
		return netip.Prefix{}, fmt.Errorf("%q has an IPv6 zone, which a whitelist cannot match", t)
	}
	if strings.IndexByte(t, '/') < 0 {
		a, err := netip.ParseAddr(t)
		if err != nil {
			return netip.Prefix{}, notIP(t)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(t)
	if err != nil {
		return netip.Prefix{}, notIP(t)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set: write %q for the block or %q for the one address",
			t, m.String(), p.Addr().String())
	}
	if a := p.Addr(); a.Is4In6() {
		// Masked above, so a mapped address here has Bits >= 96: the
		// ::ffff: part is entirely inside the block.
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96), nil
	}
	return p, nil
}

func notIP(t string) error {
	if strings.IndexByte(t, ',') >= 0 {
		// The Django admin form this replaces took comma-separated lists.
		return fmt.Errorf("%q is not an IP or CIDR (one entry a line, no commas)", t)
	}
	return fmt.Errorf("%q is not an IP or CIDR", t)
}

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

// New builds a List from a config list (file is the config file, key its
// name, both for the Problems).
func New(entries []string, file, key string) (*List, []Problem) {
	var ps []netip.Prefix
	var probs []Problem
	for i, e := range entries {
		p, err := ParseEntry(e)
		if err != nil {
			probs = append(probs, Problem{File: file, Key: key, Index: i, Text: trimSpace(e), Err: err})
			continue
		}
		ps = append(ps, p)
	}
	return build(ps), probs
}

// maxEntry bounds how much of a line Parse keeps: the longest valid entry is
// an IPv6 CIDR of under 50 bytes, and a line must never cost memory in
// proportion to its length.
const maxEntry = 256

// Parse reads a whitelist file: one entry a line; '#' starts a comment that
// runs to the end of the line; blank lines, CRLF line ends and a UTF-8 byte
// order mark at the start are accepted. Bad lines are returned as Problems
// naming name:line. The error is only for a failure to read r, and then the
// List is nil so that the caller keeps its previous one.
func Parse(r io.Reader, name string) (*List, []Problem, error) {
	br := bufio.NewReader(r)
	var (
		ps    []netip.Prefix
		probs []Problem
		buf   = make([]byte, 0, maxEntry)
		line  = 0
	)
	for {
		line++
		buf = buf[:0]
		started, comment, overlong := false, false, false
		n := 0 // bytes of this line read so far
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if line == 1 && n == 0 {
				chunk = trimBOM(chunk)
			}
			n += len(chunk)
			if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
				chunk = chunk[:len(chunk)-1]
			}
			for _, c := range chunk {
				switch {
				case comment:
				case c == '#':
					comment = true
				case !started && isSpace(c):
				case len(buf) < maxEntry:
					started = true
					buf = append(buf, c)
				case !isSpace(c):
					overlong = true
				}
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return nil, probs, fmt.Errorf("whitelist %s:%d: %w", name, line, err)
		}
		if t := trimSpace(string(buf)); t != "" {
			if overlong {
				short := t[:min(len(t), 40)] + "..."
				probs = append(probs, Problem{File: name, Line: line, Text: short,
					Err: fmt.Errorf("%q is not an IP or CIDR (the line is longer than %d bytes)", short, maxEntry)})
			} else if p, perr := ParseEntry(t); perr != nil {
				probs = append(probs, Problem{File: name, Line: line, Text: t, Err: perr})
			} else {
				ps = append(ps, p)
			}
		}
		if err == io.EOF {
			return build(ps), probs, nil
		}
	}
}

// Load opens and parses a whitelist file.
func Load(path string) (*List, []Problem, error) {
	f, err := regfile.Open(path) // never blocks on a FIFO, refuses devices
	if err != nil {
		return nil, nil, fmt.Errorf("whitelist: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Merge returns one List holding the entries of all lists; nil lists are
// skipped. Prefixes keeps the order of the arguments.
func Merge(lists ...*List) *List {
	var ps []netip.Prefix
	for _, l := range lists {
		if l != nil {
			ps = append(ps, l.prefixes...)
		}
	}
	return build(ps)
}

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

// ClientIP returns the address to match against the whitelist.
//
// X-Forwarded-For is attacker-controlled except for the part appended by
// proxies we trust, so it counts only when peer is in trusted, and then it is
// read from the right (the entries our proxies appended) to the left, past
// addresses that are themselves trusted; the first untrusted address is the
// client. When every entry is trusted, the leftmost one is the client. An
// entry that does not parse stops the walk and the last trusted address seen
// is returned: nothing left of garbage can be trusted to be what a proxy
// wrote. With trusted empty, or an empty header, the result is peer.
//
// Entries may carry spaces, ports ("1.2.3.4:5678", "[::1]:80") and brackets;
// several headers joined by ", " are one list. Results are unmapped. ClientIP
// does not allocate.
func ClientIP(peer netip.Addr, xff string, trusted *List) netip.Addr {
	peer = peer.Unmap()
	if trusted.Len() == 0 || !trusted.Contains(peer) || trimSpace(xff) == "" {
		return peer
	}
	last := peer
	rest := xff
	for {
		i := strings.LastIndexByte(rest, ',')
		a, ok := parseForwarded(rest[i+1:])
		if !ok {
			return last
		}
		if !trusted.Contains(a) {
			return a
		}
		last = a
		if i < 0 {
			return last
		}
		rest = rest[:i]
	}
}

// parseForwarded parses one X-Forwarded-For entry: an address, an IPv4
// address with a port, or an IPv6 address in brackets with or without a port.
func parseForwarded(s string) (netip.Addr, bool) {
	s = trimSpace(s)
	want6 := false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if tail := s[end+1:]; tail != "" && (tail[0] != ':' || !isPort(tail[1:])) {
			return netip.Addr{}, false
		}
		s, want6 = s[1:end], true
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		// Exactly one colon: IPv4 with a port.
		if !isPort(s[i+1:]) {
			return netip.Addr{}, false
		}
		s = s[:i]
	}
	if !addrChars(s) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || want6 && !a.Is6() {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// addrChars reports whether s is made of the characters of an address
// without a zone. Checked before parsing because a parse error allocates and
// "unknown" is a common X-Forwarded-For entry; zones, because no proxy
// writes them and parsing one allocates too.
func addrChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	return s != ""
}

func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// trimSpace trims ASCII white space only: an entry with any other space
// (a pasted no-break space, say) is reported rather than guessed at.
func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
