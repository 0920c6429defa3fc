package authz

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// splitCookies is the reading cookieAt must keep, written the plain way:
// the header split on ';', each part cut at its first '=', the name
// trimmed of spaces and tabs, the value of white space and one pair of
// quotes. It returns every value of name, in order.
func splitCookies(header, name string) []string {
	var vals []string
	for _, part := range strings.Split(header, ";") {
		k, v, ok := strings.Cut(strings.TrimLeft(part, " \t"), "=")
		if !ok || strings.TrimRight(k, " \t") != name {
			continue
		}
		vals = append(vals, unquote(strings.TrimSpace(v)))
	}
	return vals
}

func allCookies(header, name string) []string {
	var vals []string
	for from := 0; ; {
		v, next, ok := cookieAt(header, name, from)
		if !ok {
			return vals
		}
		if next <= from {
			panic("cookieAt did not advance")
		}
		vals = append(vals, v)
		from = next
	}
}

func TestCookieAtReadsAsSplit(t *testing.T) {
	for _, h := range []string{
		"", ";", "sessionid=a", " sessionid = a ; sessionid=b", "\tsessionid\t=\t\"q\"\t",
		"sessionidsessionid=x;sessionid=y", "x=sessionid=1; sessionid", "sessionid;sessionid=2",
		"a=1 sessionid=2", "sessionid=1, sessionid=2", "sessionid==x", "sessionid=\"\"", "sessionid=\"",
		strings.Repeat(";", 100) + "sessionid=z", strings.Repeat("sessionid", 50) + "=w",
		strings.Repeat("sessionid;", 30) + "sessionid=v", "sessionid=\u00a0v\u00a0",
	} {
		got, want := allCookies(h, "sessionid"), splitCookies(h, "sessionid")
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("header %q: cookieAt finds %q, split finds %q", h, got, want)
		}
	}
}

// FuzzCookieAt holds cookieAt to the plain split reading, for the session
// cookie (the last one counts) and the token cookie (the first ones).
func FuzzCookieAt(f *testing.F) {
	f.Add("csrftoken=a; sessionid=b", "sessionid")
	f.Add(" \tsessionid \t= \"x\" ;sessionid=y", "sessionid")
	f.Add("maintgate_bypass=1;;maintgate_bypassmaintgate_bypass=2", "maintgate_bypass")
	f.Add("a=b;a", "a")
	f.Fuzz(func(t *testing.T, header, name string) {
		if name == "" || strings.ContainsAny(name, "; \t=") {
			return // config.isCookieName refuses these
		}
		got, want := allCookies(header, name), splitCookies(header, name)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("header %q name %q: cookieAt finds %q, split finds %q", header, name, got, want)
		}
		v, ok := lastCookie(header, name)
		if ok != (len(want) > 0) || ok && v != want[len(want)-1] {
			t.Fatalf("header %q name %q: lastCookie = %q %v, want the last of %q", header, name, v, ok, want)
		}
	})
}

// cookieHeaders are Cookie headers of about 8190 bytes, the most Apache
// passes by default (LimitRequestFieldSize), with no token and no
// session cookie in them, so that Decide reads each one whole for both.
var cookieHeaders = []struct{ name, header string }{
	{"plain", "csrftoken=" + strings.Repeat("x", 8180)},
	{"semicolons", strings.Repeat(";", 8190)},
	{"semicolon-space", strings.Repeat("; ", 4095)},
	{"junk-cookies", strings.Repeat("a=b; ", 1638)},
	{"near-names", strings.Repeat("sessionid;", 819)},
}

// BenchmarkDecideCookie is the cost of reading a Cookie header on the
// answer path; the hostile shapes must stay within a small factor of a
// plain cookie of the same size.
func BenchmarkDecideCookie(b *testing.B) {
	p := decisionPolicy(b)
	sess := fakeSessions{}
	for _, c := range cookieHeaders {
		r := Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/", Cookie: c.header}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				Decide(p, activeWindow, r, now, sess)
			}
		})
	}
}

// TestCookieCostIsLinear: a header of separators or junk cookies costs at
// most a few times a plain cookie of the same size (it cost 16 to 33 times
// with a string operation per part).
func TestCookieCostIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	p := decisionPolicy(t)
	// The best of several short rounds: a shared machine slows some
	// rounds down, never speeds one up.
	cost := func(h string) float64 {
		r := Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/", Cookie: h}
		best := 0.0
		for range 20 {
			start := time.Now()
			for range 500 {
				Decide(p, activeWindow, r, now, fakeSessions{})
			}
			if ns := float64(time.Since(start).Nanoseconds()) / 500; best == 0 || ns < best {
				best = ns
			}
		}
		return best
	}
	plain := cost(cookieHeaders[0].header)
	for _, c := range cookieHeaders[1:] {
		ns := cost(c.header)
		t.Logf("%s: %.0f ns, %.1f times a plain cookie (%.0f ns)", c.name, ns, ns/plain, plain)
		if c.name != "near-names" && ns > 4*plain {
			t.Errorf("%s: %.0f ns, %.1f times a plain cookie of the same size (%.0f ns)", c.name, ns, ns/plain, plain)
		}
	}
}
