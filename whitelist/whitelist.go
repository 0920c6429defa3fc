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
//
// Files: whitelist.go parses entries, lists and files; list.go is the List
// and its allocation-free Contains; clientip.go picks the client address
// out of the peer and X-Forwarded-For.
package whitelist

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
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

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
