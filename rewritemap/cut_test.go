package rewritemap

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// keyRecorder parses every line as the gate does and keeps what it got.
type keyRecorder struct {
	keys []Key
	errs []error
	p    Parser
}

func (r *keyRecorder) Answer(l Line) string {
	k, err := r.p.ParseLine(l)
	k.Path, k.XFF, k.Cookie = strings.Clone(k.Path), strings.Clone(k.XFF), strings.Clone(k.Cookie)
	r.keys, r.errs = append(r.keys, k), append(r.errs, err)
	return Redirect
}

func (*keyRecorder) Recover(Line, any) string { return Redirect }

func serveKeys(t *testing.T, in string) *keyRecorder {
	t.Helper()
	r := &keyRecorder{}
	var out bytes.Buffer
	if err := Serve(strings.NewReader(in), &out, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLongLineDecidedOnItsHead: a line too long to read whole is parsed
// from its first MaxLine bytes. A cut Cookie counts as no cookie; a line
// cut before its Cookie field is a Cut error, never on_error.
func TestLongLineDecidedOnItsHead(t *testing.T) {
	// Apache with LimitRequestFieldSize 65536: 45,000 '%' in a Cookie,
	// each escaped to %25 by int:escape.
	apache := "203.0.113.7 /de/map/ 10.0.0.1 " + strings.Repeat("%25", 45000)
	tests := []struct {
		name, line      string
		path, xff, err  string
		cookieCut, long bool
	}{
		{"apache 45000 percent signs", apache, "/de/map/", "10.0.0.1", "", true, true},
		{"session cookie after a big one", "192.168.1.100 /x  big=" + strings.Repeat("y", MaxLine) + ";%20sessionid=abc", "/x", "", "", true, true},
		{"cut inside a percent escape", "10.0.0.1 /a%20b 1.2.3.4 " + strings.Repeat("a", MaxLine-27) + "%25", "/a b", "1.2.3.4", "", true, true},
		{"cut inside the path", "10.0.0.1 /" + strings.Repeat("p", MaxLine) + "  ", "", "", "cut before the cookie field", false, true},
		{"cut inside x-forwarded-for", "10.0.0.1 / " + strings.Repeat("1.2.3.4,", MaxLine/8) + " c=1", "", "", "cut before the cookie field", false, true},
		{"cut, bad address", "10.0.0.1%eth0 / - " + strings.Repeat("c", MaxLine), "", "", "not an IP", false, true},
		{"cut, bad escape in path", "10.0.0.1 /%zz - " + strings.Repeat("c", MaxLine), "", "", "bad percent", false, true},
		{"cut inside the site field", "10.0.0.1 / - a b" + strings.Repeat("c", MaxLine), "/", "-", "", true, true},
		{"cut, six fields", "10.0.0.1 / - a b c" + strings.Repeat("c", MaxLine), "", "", "more than 5", false, true},
		{"whole line just under the limit", "10.0.0.1 / - " + strings.Repeat("c", MaxLine-14), "/", "-", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := serveKeys(t, tc.line+"\nq\n")
			if len(r.keys) != 2 {
				t.Fatalf("%d answers for 2 lines", len(r.keys))
			}
			k, err := r.keys[0], r.errs[0]
			var pe *ParseError
			if tc.err != "" {
				if !errors.As(err, &pe) || !pe.Cut || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v (%+v), want a Cut error containing %q", err, pe, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if k.SiteLost != tc.long || k.Site != "" {
				t.Errorf("site %q lost=%v, want lost=%v", k.Site, k.SiteLost, tc.long)
			}
			if k.Path != tc.path || k.XFF != tc.xff || k.CookieCut != tc.cookieCut || (tc.cookieCut && k.Cookie != "") {
				t.Errorf("key %v %q %q cookie %d bytes cut=%v, want path %q xff %q cut=%v", k.Peer, k.Path, k.XFF, len(k.Cookie), k.CookieCut, tc.path, tc.xff, tc.cookieCut)
			}
		})
	}
}

// TestLongLineNotBuffered: a 64 MiB line costs the kept MaxLine bytes, not
// its length.
func TestLongLineNotBuffered(t *testing.T) {
	line := "10.0.0.1 / - " + strings.Repeat("%25", 64<<20/3) + "\n10.0.0.2 / - \n"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := serveKeys(t, line)
	runtime.ReadMemStats(&after)
	if len(r.keys) != 2 || r.errs[0] != nil || !r.keys[0].CookieCut || r.keys[1].Peer.String() != "10.0.0.2" {
		t.Fatalf("keys %+v errs %v", r.keys, r.errs)
	}
	// The reader, the kept head and the parser's buffer: MaxLine each.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*MaxLine {
		t.Errorf("serving a 64 MiB line allocated %d bytes", grew)
	}
}

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.2.3": "10.1.2.3", "::ffff:10.1.2.3": "10.1.2.3", "2001:db8::1": "2001:db8::1",
		"fe80::1%eth0": "", "fe80::1%25eth0": "", "": "", "localhost": "", " 10.1.2.3": "", "10.1.2.3/8": "",
		strings.Repeat("0", 60) + "1.2.3.4": "",
	} {
		a, err := ParseAddr(in)
		if got := a.String(); err != nil && want != "" || err == nil && got != want {
			t.Errorf("ParseAddr(%q) = %v, %v; want %q", in, a, err, want)
		}
		if k, kerr := ParseKey([]byte(in + " /  ")); (kerr == nil) != (err == nil) || k.Peer != a {
			t.Errorf("%q: the map reads %v, %v; ParseAddr %v, %v", in, k.Peer, kerr, a, err)
		}
	}
}

// FuzzParseLine: a line cut anywhere is answered from its head or refused
// with a Cut error; what it reads agrees with the whole line.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte("127.0.0.1 /de/map/ 1.2.3.4,%205.6.7.8 sessionid=abc123;%20csrftoken=x%25y"), uint(40))
	f.Add([]byte("::1 /a%20b %5B::1%5D c"), uint(5))
	f.Add([]byte("10.0.0.1 /de/map/  sessionid=x shop"), uint(30))
	f.Add([]byte("10.0.0.1 /de/map/  sessionid=x shop"), uint(34))
	f.Add([]byte("10.0.0.1 /de/map/   shop x"), uint(26))
	f.Fuzz(func(t *testing.T, line []byte, at uint) {
		cut := int(at % uint(len(line)+1))
		var p, q Parser
		k, err := p.ParseLine(Line{Text: line[:cut], TooLong: true})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !pe.Cut {
				t.Fatalf("cut at %d of %q: %v is not a Cut error", cut, line, err)
			}
			return
		}
		if !k.CookieCut || k.Cookie != "" || !k.SiteLost || k.Site != "" {
			t.Fatalf("cut at %d of %q: cookie %q, CookieCut %v, site %q, SiteLost %v", cut, line, k.Cookie, k.CookieCut, k.Site, k.SiteLost)
		}
		if _, lost := SiteOf(Line{Text: line[:cut], TooLong: true}); !lost {
			t.Fatalf("cut at %d of %q: SiteOf does not say the site is lost", cut, line)
		}
		whole, werr := q.ParseLine(Line{Text: line})
		if werr == nil && (whole.Peer != k.Peer || whole.Path != k.Path || whole.XFF != k.XFF) {
			t.Fatalf("cut at %d of %q reads %v %q %q, the whole line %v %q %q", cut, line, k.Peer, k.Path, k.XFF, whole.Peer, whole.Path, whole.XFF)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"10.1.2.3", "::ffff:10.1.2.3", "fe80::1%eth0", "2001:db8::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddr(s)
		if err != nil {
			return
		}
		if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("ParseAddr(%q) = %v", s, a)
		}
	})
}
