package whitelist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// readVectors reads a tab-separated vector file: '#' lines and blank lines
// are skipped, a field that starts with '"' is a Go string literal.
func readVectors(t *testing.T, name string, cols int) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < cols {
			t.Fatalf("%s:%d: %d fields, want %d", name, n, len(fields), cols)
		}
		for i, f := range fields {
			if strings.HasPrefix(f, `"`) {
				u, err := strconv.Unquote(f)
				if err != nil {
					t.Fatalf("%s:%d: field %d: %v", name, n, i+1, err)
				}
				fields[i] = u
			}
		}
		rows = append(rows, append(fields, fmt.Sprintf("%s:%d", name, n)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestParseEntryGood(t *testing.T) {
	for _, v := range readVectors(t, "good_entries.tsv", 2) {
		in, want, at := v[0], netip.MustParsePrefix(v[1]), v[len(v)-1]
		got, err := ParseEntry(in)
		if err != nil || got != want {
			t.Errorf("%s: ParseEntry(%q) = %v, %v; want %v", at, in, got, err, want)
		}
	}
}

func TestParseEntryBad(t *testing.T) {
	for _, v := range readVectors(t, "bad_entries.tsv", 2) {
		in, want, at := v[0], v[1], v[len(v)-1]
		got, err := ParseEntry(in)
		if err == nil {
			t.Errorf("%s: ParseEntry(%q) = %v; want error %q", at, in, got, want)
		} else if err.Error() != want {
			t.Errorf("%s: ParseEntry(%q) error\n got %q\nwant %q", at, in, err, want)
		}
	}
}

func TestClientIPVectors(t *testing.T) {
	for _, v := range readVectors(t, "clientip.tsv", 4) {
		peer, xff, at := netip.MustParseAddr(v[0]), v[2], v[len(v)-1]
		want := netip.MustParseAddr(v[3])
		var trusted *List
		if v[1] != "-" {
			var probs []Problem
			trusted, probs = New(strings.Split(v[1], ","), "test.toml", "trusted_proxies")
			if len(probs) > 0 {
				t.Fatalf("%s: %v", at, probs)
			}
		}
		if got := ClientIP(peer, xff, trusted); got != want {
			t.Errorf("%s: ClientIP(%v, %q, %v) = %v; want %v (%s)", at, peer, xff, v[1], got, want, v[4])
		}
	}
}

func TestClientIPEmptyTrusted(t *testing.T) {
	peer := netip.MustParseAddr("::ffff:10.0.0.1")
	want := netip.MustParseAddr("10.0.0.1")
	empty, _ := New(nil, "", "")
	for _, l := range []*List{nil, {}, empty} {
		if got := ClientIP(peer, "198.51.100.7", l); got != want {
			t.Errorf("ClientIP with empty trusted list = %v; want %v", got, want)
		}
	}
}

func TestContains(t *testing.T) {
	l, probs := New([]string{
		"192.168.1.100",
		"10.0.0.0/8",
		"10.1.0.0/16", // inside 10/8
		"172.16.0.0/12",
		"172.32.0.0/12", // adjacent to 172.16/12 at the range end
		"2001:db8::/32",
		"2001:db8:1::/48", // inside 2001:db8::/32
		"::1",
		"::ffff:100.64.0.0/106",
		"fe80::/10",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	}, "test.toml", "whitelist")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"192.168.1.100", true},
		{"192.168.1.99", false},
		{"192.168.1.101", false},
		{"::ffff:192.168.1.100", true},
		{"10.0.0.0", true},
		{"10.255.255.255", true},
		{"9.255.255.255", false},
		{"11.0.0.0", false},
		{"10.1.2.3", true},
		{"172.16.0.0", true},
		{"172.31.255.255", true},
		{"172.32.0.0", true},
		{"172.47.255.255", true},
		{"172.48.0.0", false},
		{"172.15.255.255", false},
		{"100.64.0.1", true},
		{"::ffff:100.127.255.255", true},
		{"100.128.0.0", false},
		{"2001:db8::", true},
		{"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
		{"2001:db9::", false},
		{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
		{"2001:db8:1::5", true},
		{"::1", true},
		{"::2", false},
		{"::", false},
		{"::1:0", false},
		{"fe80::1234", true},
		{"febf:ffff::", true},
		{"fec0::", false},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", false},
		{"0.0.0.0", false},
		{"255.255.255.255", false},
	}
	for _, tt := range tests {
		if got := l.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Contains(%s) = %v; want %v", tt.addr, got, tt.want)
		}
	}
	if l.Contains(netip.Addr{}) {
		t.Error("Contains(invalid) = true")
	}
	if got, want := l.Len(), 11; got != want {
		t.Errorf("Len = %d; want %d", got, want)
	}
}

func TestContainsAll(t *testing.T) {
	tests := []struct {
		entries []string
		in, out []string
	}{
		{[]string{"0.0.0.0/0"}, []string{"0.0.0.0", "255.255.255.255", "::ffff:1.2.3.4"}, []string{"::", "::1", "2001:db8::1"}},
		{[]string{"::/0"}, []string{"::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"0.0.0.0", "1.2.3.4", "::ffff:1.2.3.4"}},
		{[]string{"0.0.0.0/0", "::/0"}, []string{"1.2.3.4", "::1"}, nil},
		{[]string{"255.255.255.255", "255.255.255.254"}, []string{"255.255.255.255", "255.255.255.254"}, []string{"255.255.255.253"}},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, []string{"0.0.0.0", "127.255.255.255", "128.0.0.0", "255.255.255.255"}, []string{"::"}},
		{[]string{"::/1", "8000::/1", "::/0"}, []string{"::", "ffff::"}, []string{"1.2.3.4"}},
		{[]string{"10.0.0.0/8", "10.0.0.0/8", "10.1.2.3"}, []string{"10.1.2.3"}, []string{"11.0.0.0"}},
	}
	for _, tt := range tests {
		l, probs := New(tt.entries, "", "whitelist")
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		for _, a := range tt.in {
			if !l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%v: Contains(%s) = false", tt.entries, a)
			}
		}
		for _, a := range tt.out {
			if l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%v: Contains(%s) = true", tt.entries, a)
			}
		}
	}
}

// TestContainsRandom checks the merged ranges against the obvious loop over
// the prefixes, on lists dense enough to overlap and touch.
func TestContainsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := 1 + r.IntN(40)
		var ps []netip.Prefix
		for range n {
			ps = append(ps, randPrefix(r))
		}
		l := build(slices.Clone(ps))
		for range 300 {
			var a netip.Addr
			if r.IntN(2) == 0 && len(ps) > 0 {
				a = nearPrefix(r, ps[r.IntN(len(ps))])
			} else {
				a = randPrefix(r).Addr()
			}
			want := false
			for _, p := range ps {
				want = want || p.Contains(a.Unmap())
			}
			if got := l.Contains(a); got != want {
				t.Fatalf("round %d: prefixes %v: Contains(%v) = %v; want %v", round, ps, a, got, want)
			}
		}
	}
}

// randPrefix returns prefixes crowded into few addresses so they collide.
func randPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(2) == 0 {
		b := [4]byte{byte(r.IntN(3)) * 127, byte(r.IntN(3)), 0, byte(r.IntN(256))}
		return netip.PrefixFrom(netip.AddrFrom4(b), r.IntN(33)).Masked()
	}
	var b [16]byte
	b[0] = byte(r.IntN(3)) * 127
	b[7] = byte(r.IntN(3))
	b[8] = byte(r.IntN(3)) * 127
	b[15] = byte(r.IntN(256))
	return netip.PrefixFrom(netip.AddrFrom16(b), r.IntN(129)).Masked()
}

// nearPrefix returns an address at or just outside an edge of p.
func nearPrefix(r *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Addr()
	if r.IntN(2) == 0 {
		// last address of p
		b := a.AsSlice()
		for i := p.Bits(); i < len(b)*8; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		a, _ = netip.AddrFromSlice(b)
	}
	switch r.IntN(3) {
	case 0:
		if n := a.Next(); n.IsValid() {
			return n
		}
	case 1:
		if n := a.Prev(); n.IsValid() {
			return n
		}
	}
	return a
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []string // prefixes
		probs []string // Problem.Error()
	}{
		{"empty", "", nil, nil},
		{"only comments", "# office\n\n   # vpn\n\t\n", nil, nil},
		{"no final newline", "10.0.0.0/8", []string{"10.0.0.0/8"}, nil},
		{"comments and blanks",
			"# office\n192.168.1.100\n\n10.0.0.0/8  # vpn\n2001:db8::/32#dc\n  ::1  \n",
			[]string{"192.168.1.100/32", "10.0.0.0/8", "2001:db8::/32", "::1/128"}, nil},
		{"CRLF", "# x\r\n192.168.1.100\r\n10.0.0.0/8 # vpn\r\n\r\n", []string{"192.168.1.100/32", "10.0.0.0/8"}, nil},
		{"BOM", "\ufeff10.0.0.0/8\n1.2.3.4\n", []string{"10.0.0.0/8", "1.2.3.4/32"}, nil},
		{"BOM comment", "\ufeff# list\n1.2.3.4\n", []string{"1.2.3.4/32"}, nil},
		{"BOM only at start", "1.2.3.4\n\ufeff5.6.7.8\n", []string{"1.2.3.4/32"},
			[]string{`whitelist wl.txt:2: "\ufeff5.6.7.8" is not an IP or CIDR; line skipped`}},
		{"mapped", "::ffff:10.1.2.3\n::ffff:10.0.0.0/104\n", []string{"10.1.2.3/32", "10.0.0.0/8"}, nil},
		{"overlapping kept as given", "10.0.0.0/8\n10.1.0.0/16\n10.0.0.0/8\n", []string{"10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/8"}, nil},
		{"garbage", "192.168.1.100\n10.0.0/8\n# ok\nlocalhost # the box\n10.0.0.1/8\r\nfe80::1%eth0\n10.0.0.0/8,172.16.0.0/12\n1.2.3.4\n",
			[]string{"192.168.1.100/32", "1.2.3.4/32"},
			[]string{
				`whitelist wl.txt:2: "10.0.0/8" is not an IP or CIDR; line skipped`,
				`whitelist wl.txt:4: "localhost" is not an IP or CIDR; line skipped`,
				`whitelist wl.txt:5: "10.0.0.1/8" has host bits set: write "10.0.0.0/8" for the block or "10.0.0.1" for the one address; line skipped`,
				`whitelist wl.txt:6: "fe80::1%eth0" has an IPv6 zone, which a whitelist cannot match; line skipped`,
				`whitelist wl.txt:7: "10.0.0.0/8,172.16.0.0/12" is not an IP or CIDR (one entry a line, no commas); line skipped`,
			}},
		{"binary", "\x00\xff\n1.2.3.4\n", []string{"1.2.3.4/32"},
			[]string{`whitelist wl.txt:1: "\x00\xff" is not an IP or CIDR; line skipped`}},
		{"long line", "1.2.3.4\n" + strings.Repeat("a", 1<<20) + "\n5.6.7.8\n", []string{"1.2.3.4/32", "5.6.7.8/32"},
			[]string{`whitelist wl.txt:2: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." is not an IP or CIDR (the line is longer than 256 bytes); line skipped`}},
		{"long comment", "1.2.3.4 #" + strings.Repeat("#x", 1<<20) + "\n5.6.7.8", []string{"1.2.3.4/32", "5.6.7.8/32"}, nil},
		{"long padding", strings.Repeat(" ", 1<<20) + "1.2.3.4" + strings.Repeat("\t", 1<<20) + "# x\n", []string{"1.2.3.4/32"}, nil},
		{"long padding inside", "1.2.3.4" + strings.Repeat(" ", 300) + "5\n", nil,
			[]string{`whitelist wl.txt:1: "1.2.3.4..." is not an IP or CIDR (the line is longer than 256 bytes); line skipped`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time too, so no line end or BOM logic depends
			// on how reads are split.
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tt.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				l, probs, err := Parse(r, "wl.txt")
				if err != nil {
					t.Fatal(err)
				}
				if got := prefixStrings(l.Prefixes()); !slices.Equal(got, tt.want) {
					t.Errorf("prefixes = %q; want %q", got, tt.want)
				}
				var got []string
				for _, p := range probs {
					got = append(got, p.Error())
				}
				if !slices.Equal(got, tt.probs) {
					t.Errorf("problems:\n got %q\nwant %q", got, tt.probs)
				}
			}
		})
	}
}

func prefixStrings(ps []netip.Prefix) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return s
}

func TestParseReadError(t *testing.T) {
	l, _, err := Parse(iotest.TimeoutReader(strings.NewReader("1.2.3.4\n5.6.7.8\n")), "wl.txt")
	if err == nil || l != nil {
		t.Fatalf("Parse on failing reader = %v, %v; want nil list and error", l, err)
	}
	if !errors.Is(err, iotest.ErrTimeout) || !strings.HasPrefix(err.Error(), "whitelist wl.txt:") {
		t.Errorf("error = %q; want it to wrap the read error and name the file", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wl.txt")
	if err := os.WriteFile(path, []byte("10.0.0.0/8\n10.0.0/8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, probs, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 1 || len(probs) != 1 {
		t.Fatalf("Load = %d prefixes, %v", l.Len(), probs)
	}
	if want := fmt.Sprintf(`whitelist %s:2: "10.0.0/8" is not an IP or CIDR; line skipped`, path); probs[0].Error() != want {
		t.Errorf("problem = %q; want %q", probs[0].Error(), want)
	}
	_, _, err = Load(filepath.Join(dir, "missing.txt"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("Load(missing) error = %v; want one naming the file", err)
	}
}

func TestNewProblems(t *testing.T) {
	l, probs := New([]string{"192.168.1.100", " 10.0.0.0/8 ", "10.0.0/8", ""}, "/etc/maintgate/maintgate.toml", "whitelist")
	if got := prefixStrings(l.Prefixes()); !slices.Equal(got, []string{"192.168.1.100/32", "10.0.0.0/8"}) {
		t.Errorf("prefixes = %q", got)
	}
	want := []string{
		`config /etc/maintgate/maintgate.toml: whitelist[2]: "10.0.0/8" is not an IP or CIDR; entry skipped`,
		`config /etc/maintgate/maintgate.toml: whitelist[3]: "" is not an IP or CIDR; entry skipped`,
	}
	var got []string
	for _, p := range probs {
		got = append(got, p.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	if probs[0].Text != "10.0.0/8" || probs[0].Index != 2 || probs[0].Line != 0 {
		t.Errorf("problem fields = %+v", probs[0])
	}
	_, probs = New([]string{"x"}, "", "allow")
	if got, want := probs[0].Error(), `allow[0]: "x" is not an IP or CIDR; entry skipped`; got != want {
		t.Errorf("problem without file = %q; want %q", got, want)
	}
}

func TestMerge(t *testing.T) {
	a, _ := New([]string{"10.0.0.0/8"}, "", "a")
	b, _ := New([]string{"2001:db8::/32", "192.168.1.100"}, "", "b")
	m := Merge(nil, a, nil, b)
	if got := prefixStrings(m.Prefixes()); !slices.Equal(got, []string{"10.0.0.0/8", "2001:db8::/32", "192.168.1.100/32"}) {
		t.Errorf("Merge prefixes = %q", got)
	}
	for _, s := range []string{"10.1.1.1", "2001:db8::1", "192.168.1.100"} {
		if !m.Contains(netip.MustParseAddr(s)) {
			t.Errorf("merged list does not contain %s", s)
		}
	}
	if e := Merge(); e == nil || e.Len() != 0 || e.Contains(netip.MustParseAddr("1.2.3.4")) {
		t.Errorf("Merge() = %v; want an empty list", e)
	}
	if a.Len() != 1 || b.Len() != 2 {
		t.Error("Merge changed its arguments")
	}
}

func TestNilList(t *testing.T) {
	var l *List
	if l.Contains(netip.MustParseAddr("1.2.3.4")) || l.Len() != 0 || l.Prefixes() != nil {
		t.Error("nil List is not empty")
	}
}

func TestPrefixesIsACopy(t *testing.T) {
	l, _ := New([]string{"10.0.0.0/8"}, "", "w")
	l.Prefixes()[0] = netip.MustParsePrefix("0.0.0.0/0")
	if l.Prefixes()[0].String() != "10.0.0.0/8" {
		t.Error("Prefixes returned the List's own slice")
	}
}

func TestNoAllocs(t *testing.T) {
	l := randomList(10000)
	trusted, _ := New([]string{"10.0.0.0/8", "2001:db8:1::/48"}, "", "trusted_proxies")
	v4 := netip.MustParseAddr("::ffff:192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	peer := netip.MustParseAddr("10.0.0.1")
	xff := "192.168.1.100, [2001:db8::7]:443, 198.51.100.7:5678, 10.0.0.2, [2001:db8:1::2]"
	if n := testing.AllocsPerRun(100, func() {
		l.Contains(v4)
		l.Contains(v6)
		ClientIP(peer, xff, trusted)
		ClientIP(peer, "unknown, 10.0.0.2", trusted)
	}); n != 0 {
		t.Errorf("Contains and ClientIP allocate %v times; want 0", n)
	}
}

// randomList returns a list of n prefixes, four in five IPv4.
func randomList(n int) *List {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	ps := make([]netip.Prefix, 0, n)
	for range n {
		if r.IntN(5) > 0 {
			b := [4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom4(b), 16+r.IntN(17)).Masked())
		} else {
			var b [16]byte
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(b), 32+r.IntN(97)).Masked())
		}
	}
	return build(ps)
}

func BenchmarkContains(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		l := randomList(n)
		r := rand.New(rand.NewPCG(3, 4))
		addrs := make([]netip.Addr, 1024)
		for i := range addrs {
			if i%2 == 0 {
				addrs[i] = l.prefixes[r.IntN(n)].Addr() // hit
			} else {
				addrs[i] = netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
			}
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l.Contains(addrs[i&1023])
				i++
			}
		})
	}
}

func BenchmarkClientIP(b *testing.B) {
	trusted, _ := New([]string{"10.0.0.0/8", "2001:db8:1::/48"}, "", "trusted_proxies")
	for _, bb := range []struct{ name, peer, xff string }{
		{"untrusted", "203.0.113.9", "192.168.1.100"},
		{"one", "10.0.0.1", "198.51.100.7"},
		{"chain", "10.0.0.1", "192.168.1.100, 198.51.100.7, 10.0.0.2, [2001:db8:1::2]:80"},
	} {
		peer := netip.MustParseAddr(bb.peer)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ClientIP(peer, bb.xff, trusted)
			}
		})
	}
}
