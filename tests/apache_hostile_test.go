package tests

// Hostile requests through the real Apache harness (the shipped snippets,
// maintenance on): what an attacker who wants past the maintenance page
// can send. Each case is one raw request, written byte for byte on its own
// connection (Go's client would clean or refuse much of it), and the
// status Apache answers. 302 is the maintenance redirect; 200 "backend"
// means the application was reached, which must happen only for a path,
// address, token or session maintgate is meant to let through.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz/token"
)

// hostileCase is one request and what Apache must answer.
type hostileCase struct {
	name    string
	from    string   // client address (loopback); "" is 127.0.0.1
	target  string   // the request-target, sent as is
	headers []string // raw header lines, sent as is
	raw     string   // a whole request, sent as is instead of target/headers
	want    int
	// backend, when want is 200: the path the application must have been
	// asked for (its reply names it); "" when Apache itself answers.
	backend string
	// location, when want is 302: where to; "" is the maintenance page.
	location string
}

// rawRequest sends one request on a fresh connection from the address from
// and reads the response.
func (a *apacheEnv) rawRequest(from, req string) (*http.Response, string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", a.port))
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		body.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	return resp, body.String(), nil
}

func (c hostileCase) request(host string) string {
	if c.raw != "" {
		return c.raw
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", c.target, host)
	for _, h := range c.headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

func (a *apacheEnv) runHostile(t *testing.T, cases []hostileCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body, err := a.rawRequest(c.from, c.request(strings.TrimPrefix(a.base, "http://")))
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got := resp.StatusCode
			t.Logf("%d %s", got, http.StatusText(got))
			if got != c.want {
				t.Errorf("got %d %s (Location %q, body %.100q), want %d", got, http.StatusText(got), resp.Header.Get("Location"), body, c.want)
				return
			}
			switch {
			case got == http.StatusFound:
				want := c.location
				if want == "" {
					want = "/maintenance.html"
				}
				if !strings.HasPrefix(want, "http") {
					want = a.base + want
				}
				if loc := resp.Header.Get("Location"); loc != want {
					t.Errorf("302 to %q, want %s", loc, want)
				}
			case got == http.StatusOK && c.backend != "":
				if body != "backend: "+c.backend+"\n" {
					t.Errorf("200 with body %.100q, want the backend serving %s", body, c.backend)
				}
			}
			if got == http.StatusOK && c.backend == "" && strings.HasPrefix(body, "backend: ") {
				t.Errorf("the application was reached (%q); want Apache alone to answer", strings.TrimSpace(body))
			}
		})
	}
}

func TestApacheHostile(t *testing.T) {
	dj := newApDjango(t)
	a := startApache(t, apacheOpts{toml: dj.toml(map[string]string{
		"whitelist":       `["127.0.0.2", "10.0.0.0/8"]`,
		"trusted_proxies": `["127.0.0.4"]`,
	})})
	a.on(t)
	tok := a.tokenIssue(t)
	key, err := token.LoadKey(a.keyFile)
	apMust(t, err)
	now := time.Now()
	expired, err := token.Issue(key, "expired", now.Add(-2*time.Hour), now.Add(-time.Hour))
	apMust(t, err)
	otherKey := []byte("another-key-not-the-one-in-the-config-0123456789")
	foreign, err := token.Issue(otherKey, "foreign", now, now.Add(time.Hour))
	apMust(t, err)
	tampered := tok[:len(tok)-1] + map[bool]string{true: "A", false: "B"}[tok[len(tok)-1] != 'A']
	super := dj.cookie(t, "superuser")
	staff := dj.cookie(t, "staff")

	t.Run("x-forwarded-for", func(t *testing.T) {
		a.runHostile(t, []hostileCase{
			{name: "whitelisted address claimed by an untrusted peer", target: "/de/map/", headers: []string{"X-Forwarded-For: 127.0.0.2"}, want: 302},
			{name: "whitelisted CIDR claimed by an untrusted peer", target: "/de/map/", headers: []string{"X-Forwarded-For: 10.1.2.3"}, want: 302},
			{name: "a chain through the trusted proxy claimed by an untrusted peer", target: "/de/map/", headers: []string{"X-Forwarded-For: 127.0.0.2, 127.0.0.4"}, want: 302},
			{name: "two header lines from an untrusted peer", target: "/de/map/", headers: []string{"X-Forwarded-For: 127.0.0.2", "X-Forwarded-For: 127.0.0.2"}, want: 302},
			{name: "lower-case header name from an untrusted peer", target: "/de/map/", headers: []string{"x-forwarded-for: 127.0.0.2"}, want: 302},
			{name: "IPv4-mapped IPv6 from an untrusted peer", target: "/de/map/", headers: []string{"X-Forwarded-For: ::ffff:127.0.0.2"}, want: 302},
			{name: "other client-address headers are not honoured", target: "/de/map/", headers: []string{
				"X-Real-IP: 127.0.0.2", "Forwarded: for=127.0.0.2", "X-Client-IP: 127.0.0.2", "True-Client-IP: 127.0.0.2", "CF-Connecting-IP: 127.0.0.2"}, want: 302},
			{name: "8000-byte header of whitelisted addresses from an untrusted peer", target: "/de/map/", headers: []string{"X-Forwarded-For: " + strings.Repeat("127.0.0.2, ", 727) + "127.0.0.2"}, want: 302},
			// Behind the trusted proxy, the client prepends what it likes;
			// the proxy appends the address it saw: the rightmost counts.
			{name: "trusted proxy: client prepends a whitelisted address", from: "127.0.0.4", target: "/de/map/", headers: []string{"X-Forwarded-For: 127.0.0.2, 198.51.100.7"}, want: 302},
			{name: "trusted proxy: garbage right of a whitelisted address", from: "127.0.0.4", target: "/de/map/", headers: []string{"X-Forwarded-For: 127.0.0.2, unknown"}, want: 302},
			{name: "trusted proxy: the proxy itself, no header", from: "127.0.0.4", target: "/de/map/", want: 302},
			{name: "trusted proxy: whitelisted client it saw", from: "127.0.0.4", target: "/de/map/", headers: []string{"X-Forwarded-For: 198.51.100.7, 127.0.0.2"}, want: 200, backend: "/de/map/"},
			{name: "whitelisted peer", from: "127.0.0.2", target: "/de/map/", want: 200, backend: "/de/map/"},
		})
	})

	t.Run("paths", func(t *testing.T) {
		a.runHostile(t, []hostileCase{
			{name: "encoded dots out of the admin prefix", target: "/admin/%2e%2e/de/map/", want: 302},
			{name: "encoded dots, upper case", target: "/admin/%2E%2E/de/map/", want: 302},
			{name: "encoded dots out of a static prefix", target: "/static/%2e%2e/de/map/", want: 302},
			{name: "dot segments out of the admin prefix", target: "/admin/../de/map/", want: 302},
			{name: "dot segments out of the language admin prefix", target: "/de/admin/../../de/map/", want: 302},
			{name: "dots above the root", target: "/../admin/../de/map/", want: 400},
			// AllowEncodedSlashes is Off (Apache's default): Apache answers
			// 404 itself and neither maintgate nor the application is asked.
			{name: "encoded slashes and dots", target: "/de/admin/..%2f..%2fmap", want: 404},
			{name: "encoded slash after the admin prefix", target: "/admin%2f..%2fde/map/", want: 404},
			{name: "encoded slash, upper case", target: "/admin%2F..%2Fde/map/", want: 404},
			{name: "doubled slashes", target: "//de//map/", want: 302},
			{name: "doubled slashes around the admin prefix", target: "//admin//", want: 200, backend: "/admin/"},
			{name: "upper-case admin prefix", target: "/ADMIN/", want: 302},
			{name: "mixed-case admin prefix", target: "/Admin/", want: 302},
			{name: "mixed-case language admin prefix", target: "/de/ADMIN/", want: 302},
			{name: "upper-case static prefix", target: "/STATIC/../de/map/", want: 302},
			{name: "admin prefix without its slash, longer name", target: "/administrator/", want: 302},
			{name: "encoded letter in the admin prefix is the admin prefix", target: "/%61dmin/", want: 200, backend: "/admin/"},
			{name: "overlong UTF-8 dots", target: "/%c0%ae%c0%ae/de/map/", want: 302},
			{name: "overlong UTF-8 dots out of the admin prefix", target: "/admin/%c0%ae%c0%ae/de/map/", want: 200, backend: "/admin/\xc0\xae\xc0\xae/de/map/"},
			{name: "overlong UTF-8 slash", target: "/admin%c0%afde/map/", want: 302},
			{name: "backslash dot segments", target: "/admin\\..\\de/map/", want: 302},
			{name: "path parameter dot segments", target: "/admin;x/../de/map/", want: 302},
			// Not a dot segment for Apache nor for Django: a path under
			// /admin/, and the application sees it so.
			{name: "dot-dot with a path parameter", target: "/admin/..;/de/map/", want: 200, backend: "/admin/..;/de/map/"},
			{name: "page name as a path parameter", target: "/de/map/;/maintenance.html", want: 302},
			{name: "page name as the last segment", target: "/de/map/maintenance.html", want: 302},
			{name: "encoded question mark before the page name", target: "/de/map/%3f/maintenance.html", want: 302},
			{name: "always-allowed name in the query string", target: "/de/map/?/admin/", want: 302},
			{name: "always-allowed path in the query string", target: "/de/map/?next=/static/", want: 302},
			{name: "a fragment in the request-target", target: "/admin/#/../de/map/", want: 400},
			{name: "absolute-form target", target: fmt.Sprintf("http://127.0.0.1:%d/admin/../de/map/", a.port), want: 302},
			// The absolute form's host replaces Host (Apache's rule); the
			// redirect names it, and goes only to the client that sent it.
			{name: "absolute-form target naming another host", target: "http://admin.example/de/map/", want: 302, location: "http://admin.example/maintenance.html"},
			{name: "encoded NUL", target: "/admin/%00/../../de/map/", want: 302},
			{name: "encoded newline splitting the key line", target: "/de/map/%0a127.0.0.2", want: 302},
			{name: "encoded space forging key fields", target: "/de/map/%20127.0.0.2%20/admin/", want: 302},
			{name: "8000-byte path", target: "/de/map/" + strings.Repeat("a", 8000), want: 302},
			{name: "path over LimitRequestLine", target: "/admin/" + strings.Repeat("a", 9000), want: 414},
		})
	})

	t.Run("cookies", func(t *testing.T) {
		many := make([]string, 300)
		for i := range many {
			many[i] = fmt.Sprintf("c%03d=v%03d", i, i)
		}
		manyCookies := strings.Join(many, "; ")
		filler := func(n int) string { return "filler=" + strings.Repeat("x", n) }
		a.runHostile(t, []hostileCase{
			{name: "superuser session (reference)", target: "/de/map/", headers: []string{"Cookie: sessionid=" + super}, want: 200, backend: "/de/map/"},
			{name: "300 cookies, then the superuser session", target: "/de/map/", headers: []string{"Cookie: " + manyCookies + "; sessionid=" + super}, want: 200, backend: "/de/map/"},
			{name: "300 cookies, no session", target: "/de/map/", headers: []string{"Cookie: " + manyCookies}, want: 302},
			// Django keeps the last of duplicate cookies; so does maintgate.
			{name: "duplicate sessionid: superuser, then staff", target: "/de/map/", headers: []string{"Cookie: sessionid=" + super + "; sessionid=" + staff}, want: 302},
			{name: "duplicate sessionid: staff, then superuser", target: "/de/map/", headers: []string{"Cookie: sessionid=" + staff + "; sessionid=" + super}, want: 200, backend: "/de/map/"},
			{name: "duplicate sessionid: superuser, then empty", target: "/de/map/", headers: []string{"Cookie: sessionid=" + super + "; sessionid="}, want: 302},
			// Apache joins two Cookie header lines with ", ": one cookie
			// whose value is not a session key, for Django too.
			{name: "two Cookie header lines", target: "/de/map/", headers: []string{"Cookie: sessionid=" + staff, "Cookie: sessionid=" + super}, want: 302},
			{name: "session cookie name in another case", target: "/de/map/", headers: []string{"Cookie: SessionID=" + super}, want: 302},
			{name: "session cookie name with a prefix", target: "/de/map/", headers: []string{"Cookie: xsessionid=" + super}, want: 302},
			{name: "spaces around the name and value", target: "/de/map/", headers: []string{"Cookie: csrftoken=x;  sessionid = " + super + " "}, want: 200, backend: "/de/map/"},
			{name: "quoted session value", target: "/de/map/", headers: []string{`Cookie: sessionid="` + super + `"`}, want: 200, backend: "/de/map/"},
			{name: "huge cookie header near LimitRequestFieldSize, session last", target: "/de/map/", headers: []string{"Cookie: " + filler(8100-len(super)) + "; sessionid=" + super}, want: 200, backend: "/de/map/"},
			{name: "cookie header over LimitRequestFieldSize", target: "/de/map/", headers: []string{"Cookie: " + filler(8200) + "; sessionid=" + super}, want: 400},
			{name: "encoded newline in the session value", target: "/de/map/", headers: []string{"Cookie: sessionid=" + super + "%0a"}, want: 302},
			{name: "encoded space in the session value", target: "/de/map/", headers: []string{"Cookie: sessionid=%20" + super}, want: 302},
			{name: "raw space in the session value", target: "/de/map/", headers: []string{"Cookie: sessionid=" + super[:10] + " " + super[10:]}, want: 302},
			{name: "percent-encoded session value", target: "/de/map/", headers: []string{"Cookie: sessionid=%" + fmt.Sprintf("%x", super[0]) + super[1:]}, want: 302},
			{name: "stray percent signs in other cookies", target: "/de/map/", headers: []string{"Cookie: a=%; b=%zz; c=x%0ay%25; sessionid=" + super}, want: 200, backend: "/de/map/"},
			{name: "spaces forging key fields", target: "/de/map/", headers: []string{"Cookie: a=b 127.0.0.2 /admin/ x"}, want: 302},
			{name: "invalid UTF-8 in another cookie", target: "/de/map/", headers: []string{"Cookie: a=\xff\xfe\xc0\xae; sessionid=" + super}, want: 200, backend: "/de/map/"},
			// Apache unfolds an obsolete folded line into one value with a
			// space, and the application gets the same: the superuser
			// cookie is still a superuser cookie, and a session glued to
			// the previous cookie without ";" is no session.
			{name: "obsolete line folding after a semicolon", raw: "GET /de/map/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=b;\r\n sessionid=" + super + "\r\nConnection: close\r\n\r\n", want: 200, backend: "/de/map/"},
			{name: "obsolete line folding without a semicolon", raw: "GET /de/map/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid=" + staff + "\r\n sessionid=" + super + "\r\nConnection: close\r\n\r\n", want: 302, location: "http://127.0.0.1/maintenance.html"},
			{name: "bare LF inside a header value", raw: "GET /de/map/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=b\nsessionid=" + super + "\r\nConnection: close\r\n\r\n", want: 400},
			{name: "session in the query string", target: "/de/map/?sessionid=" + super, want: 302},
		})
	})

	t.Run("tokens", func(t *testing.T) {
		junk := "maintgate_bypass=junk; "
		a.runHostile(t, []hostileCase{
			{name: "valid token (reference)", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=" + tok}, want: 200, backend: "/de/map/"},
			{name: "forged token", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, want: 302},
			{name: "expired token", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=" + expired}, want: 302},
			{name: "token signed with another key", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=" + foreign}, want: 302},
			{name: "tampered token", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=" + tampered}, want: 302},
			{name: "truncated token", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=" + tok[:len(tok)-4]}, want: 302},
			{name: "token with trailing bytes", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=" + tok + "AA"}, want: 302},
			{name: "token with an encoded space", target: "/de/map/", headers: []string{"Cookie: maintgate_bypass=" + tok + "%20"}, want: 302},
			{name: "token under another cookie name", target: "/de/map/", headers: []string{"Cookie: bypass=" + tok}, want: 302},
			{name: "token in the query string", target: "/de/map/?maintgate_bypass=" + tok, want: 302},
			{name: "token as a bearer header", target: "/de/map/", headers: []string{"Authorization: Bearer " + tok}, want: 302},
			{name: "junk token, then the valid one", target: "/de/map/", headers: []string{"Cookie: " + junk + "maintgate_bypass=" + tok}, want: 200, backend: "/de/map/"},
			// At most four token cookies are verified per request: a fifth,
			// valid one behind four junk ones is not looked at.
			{name: "four junk tokens, then the valid one", target: "/de/map/", headers: []string{"Cookie: " + strings.Repeat(junk, 4) + "maintgate_bypass=" + tok}, want: 302},
			// Apache sets any well-formed token as the cookie (it cannot
			// check it); maintgate refuses it on the next request ("forged
			// token" above).
			{name: "forged bypass URL", target: "/maintgate-bypass?token=v1.AAAA.BBBB", want: 302, location: "/"},
			{name: "bypass URL with cookie attributes", target: "/maintgate-bypass?token=abc%3B%20Domain%3Devil.example", want: 400},
		})
	})

	t.Run("sessions", func(t *testing.T) {
		var cases []hostileCase
		for _, c := range []string{"staff", "plain", "anonymous", "expired", "inactive", "deleted_user", "password_changed", "oldkey_superuser", "signed_superuser"} {
			cases = append(cases, hostileCase{name: c + " session", target: "/de/map/", headers: []string{"Cookie: sessionid=" + dj.cookie(t, c)}, want: 302})
		}
		cases = append(cases,
			hostileCase{name: "unknown well-formed session key", target: "/de/map/", headers: []string{"Cookie: sessionid=" + strings.Repeat("a", 32)}, want: 302},
			hostileCase{name: "SQL in the session value", target: "/de/map/", headers: []string{"Cookie: sessionid=x'%20OR%20'1'='1"}, want: 302},
			hostileCase{name: "superuser session under the CSRF cookie name", target: "/de/map/", headers: []string{"Cookie: csrftoken=" + super}, want: 302},
			hostileCase{name: "staff session on the admin path (allowed by path)", target: "/admin/", headers: []string{"Cookie: sessionid=" + staff}, want: 200, backend: "/admin/"},
		)
		a.runHostile(t, cases)
	})

	// Whatever was sent, the map answered every line and is still the one
	// Apache started.
	if pids := a.mapPIDs(); len(pids) != 1 {
		t.Errorf("map processes after the hostile requests: %v, want one", pids)
	}
	if log := a.errorLog(); strings.Contains(log, "panic") {
		t.Errorf("a panic in the error log:\n%s", apTail(log, 3000))
	}
}
