package whitelist

import (
	"net/netip"
	"strings"
)

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
