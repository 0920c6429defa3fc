package authz

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

var (
	now      = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tokenKey = []byte("0123456789abcdef0123456789abcdef")
)

// fakeSessions stands in for the Django store here: the store itself is
// tested against real Django sessions in authz/session.
type fakeSessions map[string]bool

func (f fakeSessions) Check(_ netip.Addr, v string) Verdict {
	su, ok := f[v]
	switch {
	case !ok:
		return Verdict{Reason: "no such session"}
	case su:
		return Verdict{Pass: true, UserID: "1", Reason: "active superuser"}
	}
	return Verdict{UserID: "2", Reason: "user is not a superuser"}
}

func decisionPolicy(t testing.TB) *Policy {
	wl, probs := whitelist.New([]string{"192.168.1.100", "10.0.0.0/8", "2001:db8:1::/48"}, "test", "whitelist")
	tp, probs2 := whitelist.New([]string{"172.16.0.1", "172.16.0.2"}, "test", "trusted_proxies")
	if len(probs)+len(probs2) > 0 {
		t.Fatal(probs, probs2)
	}
	return &Policy{
		AllowPaths:     []string{"/static/", "/media/", "/maintenance.html", "/robots.txt"},
		AdminPaths:     []string{"/admin/"},
		Languages:      NewLanguages(DjangoLanguages()),
		AllowAdmin:     true,
		Whitelist:      wl,
		TrustedProxies: tp,
		TokenCookie:    "maintgate_bypass",
		TokenKey:       tokenKey,
		SessionCookie:  "sessionid",
	}
}

var activeWindow = &Window{Present: true}

func TestDecisionTable(t *testing.T) {
	p := decisionPolicy(t)
	sess := fakeSessions{"superuser0000001": true, "staffonly00000001": false}
	valid, err := token.Issue(tokenKey, "ops", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := token.Issue(tokenKey, "ops", now.Add(-2*time.Hour), now.Add(-time.Hour))
	foreign, _ := token.Issue([]byte("another key, also 32 bytes long!"), "ops", now, now.Add(time.Hour))
	last := valid[len(valid)-1]
	swap := byte('A')
	if last == 'A' {
		swap = 'B'
	}
	tampered := valid[:len(valid)-1] + string(swap)
	repl := strings.NewReplacer("$TOKEN", valid, "$EXPIRED", expired, "$FOREIGN", foreign, "$TAMPERED", tampered,
		"$TAB", "\t", "$SEMIS", strings.Repeat(";", 8000), "$JUNK", strings.Repeat("a=b; ", 1600))

	f, err := os.Open("testdata/decisions.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "!policy"); ok {
			p = tablePolicy(t, lineNo, rest)
			continue
		}
		col := strings.Split(line, "\t")
		if len(col) != 6 {
			t.Fatalf("decisions.tsv:%d: %d columns, want 6", lineNo, len(col))
		}
		for i := range col {
			if col[i] == "-" {
				col[i] = ""
			}
			col[i] = repl.Replace(col[i])
		}
		n++
		r := Request{Peer: netip.MustParseAddr(col[2]).Unmap(), Path: col[3], XFF: col[4], Cookie: col[5]}
		d := Decide(p, activeWindow, r, now, sess)
		ans := "redirect"
		if d.Allow {
			ans = "allow"
		}
		if ans != col[0] || d.Reason.String() != col[1] {
			t.Errorf("decisions.tsv:%d: %s %s xff=%q cookie=%q: got %s (%s), want %s (%s)", lineNo, col[2], col[3], col[4], col[5], ans, d.Reason, col[0], col[1])
		}
	}
	if n < 50 {
		t.Fatalf("only %d cases read", n)
	}
}

// tablePolicy is decisionPolicy changed by a "!policy key=value ..." line
// of decisions.tsv; "!policy" alone goes back to decisionPolicy.
func tablePolicy(t *testing.T, lineNo int, settings string) *Policy {
	p := decisionPolicy(t)
	for _, kv := range strings.Fields(settings) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "languages":
			p.Languages = NewLanguages(strings.FieldsFunc(v, func(r rune) bool { return r == ',' }))
		case "backend_paths":
			p.ServletPaths = v == "servlet"
		default:
			t.Fatalf("decisions.tsv:%d: unknown policy setting %q", lineNo, k)
		}
	}
	return p
}

func TestInactiveAllowsEverything(t *testing.T) {
	p := decisionPolicy(t)
	for _, w := range []*Window{nil, {Present: false}, {Present: true, Flag: flagfile.Flag{Until: now}}, {Present: true, Flag: flagfile.Flag{Start: now.Add(time.Second)}}} {
		d := Decide(p, w, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/"}, now, nil)
		if !d.Allow || d.Reason != Inactive {
			t.Errorf("window %+v: %+v", w, d)
		}
	}
}

func TestSuperuserNeedsSetting(t *testing.T) {
	p := decisionPolicy(t)
	p.AllowAdmin = false
	calls := 0
	sess := countingSessions{&calls}
	d := Decide(p, activeWindow, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/", Cookie: "sessionid=superuser0000001"}, now, sess)
	if d.Allow || calls != 0 {
		t.Errorf("allow_admin_during_maintenance=false: allow=%v, %d session lookups", d.Allow, calls)
	}
}

type countingSessions struct{ n *int }

func (c countingSessions) Check(netip.Addr, string) Verdict {
	*c.n++
	return Verdict{Pass: true}
}

// TestCheaperRulesFirst: a whitelisted client, a static path or a token
// must never cost a session lookup.
func TestCheaperRulesFirst(t *testing.T) {
	p := decisionPolicy(t)
	calls := 0
	sess := countingSessions{&calls}
	valid, _ := token.Issue(tokenKey, "x", now, now.Add(time.Hour))
	for _, r := range []Request{
		{Peer: netip.MustParseAddr("192.168.1.100"), Path: "/x", Cookie: "sessionid=abcdefgh12345678"},
		{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/static/x", Cookie: "sessionid=abcdefgh12345678"},
		{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/x", Cookie: "maintgate_bypass=" + valid + "; sessionid=abcdefgh12345678"},
	} {
		if d := Decide(p, activeWindow, r, now, sess); !d.Allow {
			t.Errorf("%+v not allowed", r)
		}
	}
	if calls != 0 {
		t.Errorf("%d session lookups for requests cheaper rules allow", calls)
	}
}

func TestWindowAllow(t *testing.T) {
	p := decisionPolicy(t)
	l, _ := whitelist.New([]string{"198.51.100.0/24"}, "flag", "allow")
	w := &Window{Present: true, Allow: l}
	d := Decide(p, w, Request{Peer: netip.MustParseAddr("198.51.100.9"), Path: "/de/map/"}, now, nil)
	if !d.Allow || d.Reason != WindowAllow {
		t.Errorf("got %+v", d)
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "/",
		"x":                  "/x",
		"/":                  "/",
		"/a/b/":              "/a/b/",
		"//a//b":             "/a/b",
		"/a/../../b":         "/b",
		"/a/./b/.":           "/a/b",
		"/a/b/..":            "/a",
		"/.well-known/x":     "/.well-known/x",
		"/a/..b/c":           "/a/..b/c",
		"/static/../de/map/": "/de/map/",
	} {
		if got := CleanPath(in); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p := decisionPolicy(b)
	sess := fakeSessions{"superuser0000001": true}
	valid, _ := token.Issue(tokenKey, "ops", now, now.Add(time.Hour))
	cases := []struct {
		name string
		w    *Window
		r    Request
	}{
		{"inactive", &Window{}, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/"}},
		{"static", activeWindow, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/static/css/site.css"}},
		{"admin-lang", activeWindow, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/pt-br/admin/login/"}},
		{"whitelisted", activeWindow, Request{Peer: netip.MustParseAddr("10.1.2.3"), Path: "/de/map/"}},
		{"xff-chain", activeWindow, Request{Peer: netip.MustParseAddr("172.16.0.1"), Path: "/de/map/", XFF: "198.51.100.1, 192.168.1.100, 172.16.0.2"}},
		{"token", activeWindow, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/", Cookie: "csrftoken=abc; maintgate_bypass=" + valid}},
		{"superuser", activeWindow, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/", Cookie: "csrftoken=abc; sessionid=superuser0000001"}},
		{"redirect", activeWindow, Request{Peer: netip.MustParseAddr("203.0.113.7"), Path: "/de/map/", Cookie: "csrftoken=abc"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Decide(p, c.w, c.r, now, sess)
			}
		})
	}
}
