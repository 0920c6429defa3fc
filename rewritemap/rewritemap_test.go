package rewritemap

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// echoLen answers with a word derived from the line so tests can check
// order: "n<len>" or "long".
type echoLen struct{ panicOn string }

func (e echoLen) Answer(l Line) string {
	if e.panicOn != "" && string(l.Text) == e.panicOn {
		panic("boom")
	}
	if l.TooLong {
		return "long"
	}
	return "n" + itoa(len(l.Text))
}

func (echoLen) Recover(Line, any) string { return "recovered" }

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func serve(t *testing.T, a Answerer, in string) []string {
	t.Helper()
	var out bytes.Buffer
	if err := Serve(strings.NewReader(in), &out, a); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	s := out.String()
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("output does not end in a newline: %q", s)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestServeOneAnswerPerLine(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	huge := strings.Repeat("y", 16<<20)
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty input", "", nil},
		{"one line", "abc\n", []string{"n3"}},
		{"empty line", "\n", []string{"n0"}},
		{"crlf", "abc\r\n", []string{"n3"}},
		{"last line without newline", "a\nbc", []string{"n1", "n2"}},
		{"last line just CR", "\r", []string{"n0"}},
		{"binary and NUL", "\x00\xff\xfe\n\x01\n", []string{"n3", "n1"}},
		{"lone CR inside", "a\rb\n", []string{"n3"}},
		{"too long then short", long + "\nok\n", []string{"long", "n2"}},
		{"exactly max", strings.Repeat("z", MaxLine-1) + "\n", []string{"n" + itoa(MaxLine-1)}},
		{"16 MiB line", huge + "\nq\n", []string{"long", "n1"}},
		{"16 MiB without newline", huge, []string{"long"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := serve(t, echoLen{}, tc.in)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("answers %q, want %q", got, tc.want)
			}
		})
	}
}

func TestServeRecoversPanic(t *testing.T) {
	got := serve(t, echoLen{panicOn: "bad"}, "a\nbad\nccc\n")
	want := []string{"n1", "recovered", "n3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("answers %q, want %q", got, want)
	}
}

type newlineAnswer struct{}

func (newlineAnswer) Answer(Line) string       { return "allow\nallow" }
func (newlineAnswer) Recover(Line, any) string { return "redirect" }

func TestServeRefusesAnswerWithLineBreak(t *testing.T) {
	got := serve(t, newlineAnswer{}, "x\n")
	if len(got) != 1 || got[0] != "redirect" {
		t.Errorf("answers %q, want one redirect", got)
	}
}

// TestServeLockStep writes one line at a time through a pipe and waits for
// each answer, as Apache does: an answer must be flushed before the next
// line is sent.
func TestServeLockStep(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(inR, outW, echoLen{}); outW.Close() }()
	br := bufio.NewReader(outR)
	for i := 0; i < 100; i++ {
		line := strings.Repeat("k", i)
		if _, err := io.WriteString(inW, line+"\n"); err != nil {
			t.Fatal(err)
		}
		ans, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := "n" + itoa(i) + "\n"; ans != want {
			t.Fatalf("line %d: answer %q, want %q", i, ans, want)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve after EOF: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestServeWriteErrorStops(t *testing.T) {
	err := Serve(strings.NewReader("a\nb\n"), failWriter{}, echoLen{})
	if err == nil || !strings.Contains(err.Error(), "write answer") {
		t.Fatalf("err = %v, want a write error", err)
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		line                      string
		peer, path, xff, ck, site string
		err                       string
	}{
		{line: "127.0.0.1 /de/map/  ", peer: "127.0.0.1", path: "/de/map/"},
		{line: "127.0.0.1 /de/map/ 1.2.3.4,%205.6.7.8 sessionid=abc123;%20csrftoken=x%25y%20z",
			peer: "127.0.0.1", path: "/de/map/", xff: "1.2.3.4, 5.6.7.8", ck: "sessionid=abc123; csrftoken=x%y z"},
		{line: "::ffff:10.0.0.1 /a%0ab  ", peer: "10.0.0.1", path: "/a\nb"},
		{line: "2001:db8::1 / %5B2001:db8::2%5D ", peer: "2001:db8::1", path: "/", xff: "[2001:db8::2]"},
		{line: "127.0.0.1 /%C3%A4  ", peer: "127.0.0.1", path: "/ä"},
		{line: "", err: "1 fields"},
		{line: "127.0.0.1 /", err: "2 fields"},
		{line: "127.0.0.1 / x", err: "3 fields"},
		{line: "127.0.0.1 / x y z", peer: "127.0.0.1", path: "/", xff: "x", ck: "y", site: "z"},
		{line: "127.0.0.1 / x y ", peer: "127.0.0.1", path: "/", xff: "x", ck: "y"},
		{line: "127.0.0.1    ", peer: "127.0.0.1", path: ""},
		{line: "127.0.0.1 /   shop", peer: "127.0.0.1", path: "/", site: "shop"},
		{line: "127.0.0.1 /   Shop%20x", peer: "127.0.0.1", path: "/", site: "Shop%20x"},
		{line: "127.0.0.1 / x y z w", err: "more than 5"},
		{line: "127.0.0.1 /    ", err: "more than 5"},
		{line: "127.0.0.1  / x y z", err: "more than 5"},
		{line: "127.0.0.1 /%zz   shop", err: "path: bad percent"},
		{line: "localhost /  ", err: "not an IP"},
		{line: "fe80::1%eth0 /  ", err: "not an IP"},
		{line: " /  ", err: "missing"},
		{line: "127.0.0.1 /%zz  ", err: "path: bad percent"},
		{line: "127.0.0.1 /% x ", err: "path: truncated"},
		{line: "127.0.0.1 / %4 ", err: "x-forwarded-for: truncated"},
		{line: "127.0.0.1 /  a%", err: "cookie: truncated"},
	}
	for _, tc := range tests {
		k, err := ParseKey([]byte(tc.line))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseKey(%q) err = %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseKey(%q): %v", tc.line, err)
			continue
		}
		if k.Peer.String() != tc.peer || k.Path != tc.path || k.XFF != tc.xff || k.Cookie != tc.ck || k.Site != tc.site || k.SiteLost {
			t.Errorf("ParseKey(%q) = %v %q %q %q site %q lost=%v, want %s %q %q %q site %q", tc.line, k.Peer, k.Path, k.XFF, k.Cookie, k.Site, k.SiteLost, tc.peer, tc.path, tc.xff, tc.ck, tc.site)
		}
		if site, lost := SiteOf(Line{Text: []byte(tc.line)}); string(site) != tc.site || lost {
			t.Errorf("SiteOf(%q) = %q, %v; ParseKey read site %q", tc.line, site, lost, tc.site)
		}
	}
}

// FuzzServe holds the protocol's invariant on any input: exactly one
// answer line per input line, in order, and no panic escapes.
func FuzzServe(f *testing.F) {
	f.Add([]byte("127.0.0.1 /de/map/  \n"))
	f.Add([]byte("a\r\n\n\x00\xff\n"))
	f.Add([]byte("no newline"))
	f.Add([]byte("127.0.0.1 /%zz a%2 b\n\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		a := parseAnswerer{}
		if err := Serve(bytes.NewReader(in), &out, a); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(in, []byte("\n"))
		if len(in) > 0 && in[len(in)-1] != '\n' {
			lines++
		}
		if got := bytes.Count(out.Bytes(), []byte("\n")); got != lines {
			t.Fatalf("%d answers for %d lines", got, lines)
		}
		for _, ans := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if ans != Allow && ans != Redirect && out.Len() > 0 {
				t.Fatalf("answer %q", ans)
			}
		}
	})
}

// parseAnswerer parses every line, as the gate does.
type parseAnswerer struct{}

func (parseAnswerer) Answer(l Line) string {
	if l.TooLong {
		return Redirect
	}
	if _, err := ParseKey(l.Text); err != nil {
		return Redirect
	}
	return Allow
}

func (parseAnswerer) Recover(Line, any) string { return Redirect }

func FuzzParseKey(f *testing.F) {
	f.Add([]byte("127.0.0.1 /de/map/ 1.2.3.4,%205.6.7.8 sessionid=abc123;%20csrftoken=x%25y%20z"))
	f.Add([]byte("::1 / %5B::1%5D "))
	// The fifth field: a site, an empty one, a bad name, six fields.
	f.Add([]byte("10.0.0.1 /de/map/  sessionid=x shop"))
	f.Add([]byte("10.0.0.1 /de/map/  sessionid=x "))
	f.Add([]byte("10.0.0.1 /de/map/   Shop%20%00"))
	f.Add([]byte("10.0.0.1 /de/map/   shop x"))
	f.Fuzz(func(t *testing.T, line []byte) {
		k, err := ParseKey(line)
		site, lost := SiteOf(Line{Text: line})
		if err != nil {
			return
		}
		if !k.Peer.IsValid() || k.Peer.Is4In6() {
			t.Fatalf("peer %v from %q", k.Peer, line)
		}
		if n := bytes.Count(line, []byte(" ")); n != 3 && n != 4 {
			t.Fatalf("accepted %q with %d spaces", line, n)
		}
		if k.SiteLost || lost || string(site) != k.Site || strings.IndexByte(k.Site, ' ') >= 0 {
			t.Fatalf("%q: site %q lost=%v, SiteOf %q lost=%v", line, k.Site, k.SiteLost, site, lost)
		}
	})
}

func BenchmarkParseKey(b *testing.B) {
	line := []byte("203.0.113.7 /de/map/ 1.2.3.4,%205.6.7.8 sessionid=abc123def456ghi789jkl012mno345pq;%20csrftoken=x%25y%20z")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseKey(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSiteOf is what finding the site costs the answer path before
// it knows the site's state: a scan for the line's spaces.
func BenchmarkSiteOf(b *testing.B) {
	for name, line := range map[string]string{
		"four":      "203.0.113.7 /de/map/ 1.2.3.4,%205.6.7.8 sessionid=abc123def456ghi789jkl012mno345pq;%20csrftoken=Zq3kE8vJb1mN7xYc2LpRt5WuA9sDf0GhKoIeVnBmQwErTyUiOpAsDfGhJkLzXcVb",
		"five":      "203.0.113.7 /de/map/ 1.2.3.4,%205.6.7.8 sessionid=abc123def456ghi789jkl012mno345pq;%20csrftoken=Zq3kE8vJb1mN7xYc2LpRt5WuA9sDf0GhKoIeVnBmQwErTyUiOpAsDfGhJkLzXcVb shop",
		"five-4kib": "203.0.113.7 /de/map/ 1.2.3.4 " + strings.Repeat("a=b;%20", 600) + " shop",
	} {
		b.Run(name, func(b *testing.B) {
			l := Line{Text: []byte(line)}
			b.ReportAllocs()
			for b.Loop() {
				SiteOf(l)
			}
		})
	}
}
