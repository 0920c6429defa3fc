package panel

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/control"
)

func TestAPIRefusesWithoutCredentials(t *testing.T) {
	p := newTestPanel(t, "")
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/status"}, {"POST", "/api/on"}, {"GET", "/api/whitelist"}, {"PUT", "/api/whitelist"},
		{"GET", "/api/audit"}, {"GET", "/metrics"}, {"POST", "/api/token"}, {"POST", "/api/check"},
	} {
		r := p.do(t, c.method, c.path, "", "", `{}`)
		wantCode(t, r, http.StatusUnauthorized, c.method+" "+c.path)
		if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
			t.Errorf("%s %s: WWW-Authenticate %q, want a Basic challenge", c.method, c.path, got)
		}
	}
	// The page says how to sign in rather than show anything.
	r := p.do(t, "GET", "/", "", "", "")
	wantCode(t, r, http.StatusUnauthorized, "page without credentials")
	if !strings.Contains(r.body, "Sign in") || strings.Contains(r.body, "Turn maintenance on") {
		t.Errorf("page without credentials:\n%s", r.body)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "maintenance")); !os.IsNotExist(err) {
		t.Fatal("a request without credentials switched maintenance on")
	}
}

func TestAPIWrongPasswordIsForbidden(t *testing.T) {
	p := newTestPanel(t, "")
	for _, c := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"mallory", "alice-pw"}} {
		r := p.do(t, "POST", "/api/on", c[0], c[1], `{"message":"x"}`)
		wantCode(t, r, http.StatusForbidden, "user "+c[0]+" password "+c[1])
	}
	if p.read(t, "maintenance") != "" {
		t.Fatal("a wrong password switched maintenance on")
	}
	wantCode(t, p.alice(t, "GET", "/api/status", ""), http.StatusOK, "right password")
}

func TestAPIRefusesCrossOriginPost(t *testing.T) {
	p := newTestPanel(t, "")
	for _, h := range [][]string{
		{"Sec-Fetch-Site: cross-site"},
		{"Sec-Fetch-Site: same-site"},
		{"Origin: https://evil.example"},
	} {
		r := p.alice(t, "POST", "/api/on", `{"message":"csrf"}`, h...)
		wantCode(t, r, http.StatusForbidden, "POST with "+h[0])
		r = p.alice(t, "POST", "/on", ``, append(h, "Content-Type: application/x-www-form-urlencoded")...)
		wantCode(t, r, http.StatusForbidden, "form POST with "+h[0])
	}
	if p.read(t, "maintenance") != "" {
		t.Fatal("a cross-origin POST switched maintenance on")
	}
	// The panel's own page (same origin) and curl (no browser headers) may.
	wantCode(t, p.alice(t, "POST", "/api/off", `{}`, "Sec-Fetch-Site: same-origin"), http.StatusOK, "same-origin POST")
	wantCode(t, p.alice(t, "POST", "/api/off", `{}`), http.StatusOK, "curl POST")
}

func TestAPIWrongMethod(t *testing.T) {
	p := newTestPanel(t, "")
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/on"}, {"GET", "/api/off"}, {"DELETE", "/api/whitelist"}, {"POST", "/api/status"},
		{"GET", "/api/token"}, {"PUT", "/on"}, {"POST", "/metrics"},
	} {
		r := p.alice(t, c.method, c.path, "")
		wantCode(t, r, http.StatusMethodNotAllowed, c.method+" "+c.path)
		if r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
}

func TestAPIOnOffAudited(t *testing.T) {
	p := newTestPanel(t, "")
	r := p.alice(t, "POST", "/api/on", `{"site":"shop","message":"Moving house","until":"2h","allow":["203.0.113.7"],"allow_me":true}`)
	wantCode(t, r, http.StatusOK, "on")
	var st statusJSON
	decodeJSON(t, p.alice(t, "GET", "/api/status", ""), &st)
	if len(st.Sites) != 2 || st.Sites[0].Name != "default" || st.Sites[1].Name != "shop" {
		t.Fatalf("sites %+v", st.Sites)
	}
	shop := st.Sites[1]
	if !shop.Active || shop.State != "on" || shop.Message != "Moving house" || shop.Until == nil || shop.SetBy != "alice (panel)" {
		t.Fatalf("shop after on: %+v", shop)
	}
	// allow_me: the test client is 127.0.0.1, with no X-Forwarded-For.
	if strings.Join(shop.Allow, ",") != "203.0.113.7,127.0.0.1" {
		t.Errorf("allow %v, want the given address and the caller's", shop.Allow)
	}
	if st.Sites[0].Active {
		t.Error("the server-wide switch went on too")
	}
	wantCode(t, p.alice(t, "POST", "/api/on", `{"until":"yesterday"}`), http.StatusBadRequest, "bad until")
	wantCode(t, p.alice(t, "POST", "/api/on", `{"site":"nope"}`), http.StatusBadRequest, "unknown site")
	wantCode(t, p.alice(t, "POST", "/api/on", `{"mesage":"typo"}`), http.StatusBadRequest, "unknown field")
	wantCode(t, p.alice(t, "POST", "/api/off", `{"site":"shop"}`), http.StatusOK, "off")
	es, err := audit.Latest(filepath.Join(p.dir, "audit.log"), 10)
	must(t, err)
	if len(es) != 2 || es[0].Action != "off" || es[1].Action != "on" || es[1].Who != "alice" || es[1].Via != "panel" || es[1].Site != "shop" {
		t.Fatalf("audit %+v", es)
	}
	if es[1].Details["message"] != "Moving house" {
		t.Errorf("audit details %v", es[1].Details)
	}
}

func TestAPIForwardedClientOnlyFromApache(t *testing.T) {
	p := newTestPanel(t, "")
	// From loopback (Apache's ProxyPass), X-Forwarded-For names the client.
	r := p.alice(t, "POST", "/api/on", `{"allow_me":true}`, "X-Forwarded-For: 198.51.100.9, 203.0.113.5")
	wantCode(t, r, http.StatusOK, "on")
	var ch changeJSON
	decodeJSON(t, r, &ch)
	if got := strings.Join(ch.Sites[0].Allow, ","); got != "203.0.113.5" {
		t.Errorf("allow_me behind Apache: %q, want the address Apache appended", got)
	}
	// From anywhere else it is ignored: the peer is the client.
	req, _ := http.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.50:4000"
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	if got := p.srv.clientAddr(req).String(); got != "192.0.2.50" {
		t.Errorf("client from an untrusted peer: %s", got)
	}
}

func TestAPIWhitelistBadLinesLeaveFileUnchanged(t *testing.T) {
	p := newTestPanel(t, "")
	before := p.read(t, "whitelist.txt")
	r := p.alice(t, "PUT", "/api/whitelist", `{"text":"10.0.0.0/8\n10.0.0/8\n# fine\n192.168.1.1/24\n2001:db8::/32\n"}`)
	wantCode(t, r, http.StatusBadRequest, "bad whitelist")
	var bad struct {
		Errors []lineError `json:"errors"`
	}
	decodeJSON(t, r, &bad)
	if len(bad.Errors) != 2 || bad.Errors[0].Line != 2 || bad.Errors[1].Line != 4 ||
		!strings.Contains(bad.Errors[0].Message, "10.0.0/8") || !strings.Contains(bad.Errors[1].Message, "host bits") {
		t.Fatalf("errors %+v", bad.Errors)
	}
	if got := p.read(t, "whitelist.txt"); got != before {
		t.Fatalf("whitelist file changed by a refused PUT:\n%s", got)
	}
	r = p.alice(t, "PUT", "/api/whitelist", `{"text":"192.0.2.10\n10.0.0.0/8"}`)
	wantCode(t, r, http.StatusOK, "good whitelist")
	if got := p.read(t, "whitelist.txt"); got != "192.0.2.10\n10.0.0.0/8\n" {
		t.Fatalf("whitelist file %q", got)
	}
	var v whitelistView
	decodeJSON(t, p.alice(t, "GET", "/api/whitelist", ""), &v)
	if strings.Join(v.Entries, ",") != "192.0.2.10/32,10.0.0.0/8" {
		t.Errorf("entries %v", v.Entries)
	}
	es, err := audit.Latest(filepath.Join(p.dir, "audit.log"), 10)
	must(t, err)
	if len(es) != 1 || es[0].Action != "whitelist" || es[0].Who != "alice" {
		t.Fatalf("audit %+v", es)
	}
	if added, _ := es[0].Details["added"].([]any); len(added) != 1 || added[0] != "10.0.0.0/8" {
		t.Errorf("audit details %v", es[0].Details)
	}
}

func TestAPITokenAuditedWithoutTheToken(t *testing.T) {
	p := newTestPanel(t, "")
	r := p.alice(t, "POST", "/api/token", `{"ttl":"2h","label":"bob-laptop"}`, "Host: shop.example", "X-Forwarded-Proto: https")
	wantCode(t, r, http.StatusOK, "token")
	var tok tokenResponse
	decodeJSON(t, r, &tok)
	if tok.URL != "https://shop.example/maintgate-bypass?token="+tok.Token {
		t.Errorf("url %q", tok.URL)
	}
	key, err := os.ReadFile(filepath.Join(p.dir, "token.key"))
	must(t, err)
	c, err := token.Verify(key, tok.Token, time.Now())
	if err != nil || c.Label != "bob-laptop" || time.Until(c.Expires) > 2*time.Hour {
		t.Fatalf("token %v %+v", err, c)
	}
	log := p.read(t, "audit.log")
	if !strings.Contains(log, `"action":"token"`) || !strings.Contains(log, "bob-laptop") {
		t.Errorf("audit log: %s", log)
	}
	if strings.Contains(log, tok.Token) || strings.Contains(log, strings.Split(tok.Token, ".")[2]) {
		t.Fatal("the token is in the audit log")
	}
	wantCode(t, p.alice(t, "POST", "/api/token", `{"ttl":"-1h"}`), http.StatusBadRequest, "negative ttl")
	wantCode(t, p.alice(t, "POST", "/api/token", `{"label":"has space"}`), http.StatusBadRequest, "bad label")
}

func TestAPICheck(t *testing.T) {
	p := newTestPanel(t, "")
	var c checkResponse
	r := p.alice(t, "POST", "/api/check", `{"ip":"198.51.100.1","path":"/de/map/"}`)
	wantCode(t, r, http.StatusOK, "check")
	decodeJSON(t, r, &c)
	if !c.Allow || !strings.HasPrefix(c.Reason, "allow: maintenance is not active") {
		t.Fatalf("check while off: %+v", c)
	}
	wantCode(t, p.alice(t, "POST", "/api/on", `{}`), http.StatusOK, "on")
	decodeJSON(t, p.alice(t, "POST", "/api/check", `{"ip":"198.51.100.1","path":"/de/map/"}`), &c)
	if c.Allow || !strings.HasPrefix(c.Reason, "redirect:") {
		t.Fatalf("check while on: %+v", c)
	}
	decodeJSON(t, p.alice(t, "POST", "/api/check", `{"ip":"192.0.2.10","path":"/de/map/"}`), &c)
	if !c.Allow || !strings.Contains(c.Reason, "whitelist") {
		t.Fatalf("check of a whitelisted address: %+v", c)
	}
	wantCode(t, p.alice(t, "POST", "/api/check", `{"ip":"not-an-ip"}`), http.StatusBadRequest, "bad ip")
}

func TestMetricsAndLiveCounters(t *testing.T) {
	p := newTestPanel(t, "")
	r := p.alice(t, "GET", "/metrics", "")
	wantCode(t, r, http.StatusServiceUnavailable, "metrics before the map wrote any")
	b, err := os.ReadFile("../gate/testdata/stats.prom")
	must(t, err)
	write(t, filepath.Join(p.dir, "stats.prom"), string(b))
	r = p.alice(t, "GET", "/metrics", "")
	wantCode(t, r, http.StatusOK, "metrics")
	if r.body != string(b) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("metrics %q %q", r.header.Get("Content-Type"), r.body)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		r = p.alice(t, "GET", "/live", "")
		if strings.Contains(r.body, ">18446744073709551615<") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{">18446744073709551615<", "<td>window_allow</td><td class=\"n\">5</td>", "<svg"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("live view lacks %q:\n%s", want, r.body)
		}
	}
}

// TestFormsWithoutScript: the page's forms alone, as a browser without
// JavaScript sends them: on and off show a confirmation first and change
// nothing until it is confirmed.
func TestFormsWithoutScript(t *testing.T) {
	p := newTestPanel(t, "")
	form := "Content-Type: application/x-www-form-urlencoded"
	r := p.alice(t, "POST", "/on", "site=shop&message=Soon+back&until=1h&allow=&allow_paths=&confirm=", form)
	wantCode(t, r, http.StatusOK, "on without confirmation")
	if !strings.Contains(r.body, "Yes, turn it on") || !strings.Contains(r.body, `name="message" value="Soon back"`) {
		t.Fatalf("confirmation page:\n%s", r.body)
	}
	if p.read(t, "maintenance.shop") != "" {
		t.Fatal("switched on before the confirmation")
	}
	r = p.alice(t, "POST", "/on", "site=shop&message=Soon+back&until=1h&allow=203.0.113.9+198.51.100.0/24&confirm=1", form)
	wantCode(t, r, http.StatusOK, "on confirmed")
	if !strings.Contains(r.body, `id="flash"`) || !strings.Contains(p.read(t, "maintenance.shop"), "Soon back") {
		t.Fatalf("after on:\n%s", r.body)
	}
	r = p.alice(t, "POST", "/whitelist", "text=10.0.0.0/8%0D%0Abad%0D%0A", form)
	wantCode(t, r, http.StatusBadRequest, "bad whitelist form")
	if !strings.Contains(r.body, "line 2: &#34;bad&#34; is not an IP or CIDR") {
		t.Errorf("whitelist form errors:\n%s", r.body)
	}
	r = p.alice(t, "POST", "/off", "site=shop&confirm=1", form)
	wantCode(t, r, http.StatusOK, "off confirmed")
	if p.read(t, "maintenance.shop") != "" {
		t.Fatal("still on after off")
	}
}

// TestAssetsOnlyScriptAndStyle: the page's stylesheet and script load
// without credentials (the sign-in page uses them); its templates are
// not served.
func TestAssetsOnlyScriptAndStyle(t *testing.T) {
	p := newTestPanel(t, "")
	for path, code := range map[string]int{"/assets/panel.css": 200, "/assets/panel.js": 200, "/assets/page.html": 404, "/assets/": 404} {
		wantCode(t, p.do(t, "GET", path, "", "", ""), code, path)
	}
}

// TestSitesPartFollowsTheFlags: the fragment the page refreshes shows a
// change made elsewhere (the command line writes the flag file).
func TestSitesPartFollowsTheFlags(t *testing.T) {
	p := newTestPanel(t, "")
	write(t, filepath.Join(p.dir, "maintenance.shop"), "message = \"by hand\"\n")
	r := p.alice(t, "GET", "/sites", "")
	wantCode(t, r, http.StatusOK, "sites")
	if !strings.Contains(r.body, `<tr data-site="shop">`) || !strings.Contains(r.body, "by hand") || strings.Contains(r.body, "<html") {
		t.Errorf("sites fragment:\n%s", r.body)
	}
}

// A change refused because another landed at the same moment (the
// fleet's WATCH) is a 409: nothing changed, run it again.
func TestStatusOfConflict(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("on: %w", control.ErrConflict), http.StatusConflict},
		{&control.InputError{Msg: "--until x"}, http.StatusBadRequest},
		{errors.New("fleet: redis unreachable"), http.StatusInternalServerError},
	} {
		if got := statusOf(tc.err); got != tc.want {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
