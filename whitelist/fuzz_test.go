package whitelist

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"192.168.1.100\n10.0.0.0/8 # vpn\n",
		"\ufeff# list\r\n2001:db8::/32\r\n::ffff:10.0.0.0/104\r\n",
		"10.0.0/8\n10.0.0.1/8\nfe80::1%eth0\n\n#\n",
		"0.0.0.0/0\n::/0\n::1\n",
		"1.2.3.4" + strings.Repeat(" ", 300) + "#\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, probs, err := Parse(bytes.NewReader(data), "wl.txt")
		if err != nil {
			t.Fatal(err)
		}
		// The obvious reading of the format, line by line.
		lines := strings.Split(string(bytes.TrimPrefix(data, []byte("\ufeff"))), "\n")
		var want []netip.Prefix
		var entries []int // line numbers of non-blank, non-comment lines
		for i, line := range lines {
			line, _, _ = strings.Cut(line, "#")
			line = strings.Trim(line, " \t\r\v\f")
			if line == "" {
				continue
			}
			entries = append(entries, i+1)
			if p, err := ParseEntry(line); err == nil {
				want = append(want, p)
			}
		}
		got := l.Prefixes()
		if len(got)+len(probs) != len(entries) {
			t.Fatalf("%d prefixes + %d problems; want %d entry lines", len(got), len(probs), len(entries))
		}
		// Parse keeps at most maxEntry bytes of a line, which is more than
		// any entry that ParseEntry accepts, so the results are the same.
		if len(got) != len(want) {
			t.Fatalf("prefixes %v; want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("prefix %d = %v; want %v", i, got[i], want[i])
			}
		}
		for _, p := range got {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("bad prefix %v", p)
			}
			if !l.Contains(p.Addr()) || !l.Contains(lastAddr(p)) {
				t.Fatalf("list does not contain its own prefix %v", p)
			}
			if q, err := ParseEntry(p.String()); err != nil || q != p {
				t.Fatalf("ParseEntry(%q) = %v, %v; want %v", p.String(), q, err, p)
			}
		}
		line := 0
		for _, pr := range probs {
			if pr.Line <= line || pr.Err == nil || !strings.HasPrefix(pr.Error(), "whitelist wl.txt:") {
				t.Fatalf("bad problem %+v after line %d", pr, line)
			}
			line = pr.Line
		}
	})
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1", "192.168.1.100, 198.51.100.7, 10.0.0.2", "10.0.0.0/8")
	f.Add("203.0.113.9", "192.168.1.100", "10.0.0.0/8")
	f.Add("::ffff:10.0.0.1", "[2001:db8::7]:443, garbage, 10.0.0.2:80", "::ffff:10.0.0.0/104,2001:db8::/32")
	f.Add("::1", "", "::1")
	f.Fuzz(func(t *testing.T, peerText, xff, trustedText string) {
		peer, err := netip.ParseAddr(peerText)
		if err != nil {
			return
		}
		trusted, _ := New(strings.Split(trustedText, ","), "", "trusted_proxies")
		got := ClientIP(peer, xff, trusted)
		if !got.IsValid() || got.Is4In6() {
			t.Fatalf("ClientIP(%v, %q, %q) = %v", peer, xff, trustedText, got)
		}
		if got == peer.Unmap() {
			return
		}
		if !trusted.Contains(peer) {
			t.Fatalf("untrusted peer %v: ClientIP = %v; want the peer", peer, got)
		}
		// Anything else must be written in the header.
		found := false
		for _, e := range strings.Split(xff, ",") {
			if a, ok := parseForwarded(e); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("ClientIP(%v, %q, %q) = %v, which is not in the header", peer, xff, trustedText, got)
		}
	})
}
