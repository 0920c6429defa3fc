package panel

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/maintgate/maintgate/audit"
)

const formCT = "Content-Type: application/x-www-form-urlencoded"

// TestHugeMessageNeverReachesTheFlag: a message of a megabyte, by the
// form or the API, is refused (413) and a scheduled window stays
// scheduled; a message over control's 4096 bytes is a 400 saying so. A
// flag file the map cannot read would mean maintenance on now.
func TestHugeMessageNeverReachesTheFlag(t *testing.T) {
	p := newTestPanel(t, "")
	wantCode(t, p.alice(t, "POST", "/api/on", `{"site":"shop","message":"later","start":"1h","until":"2h"}`), http.StatusOK, "scheduled window")
	before := p.read(t, "maintenance.shop")
	huge := strings.Repeat("x", 1100<<10)
	r := p.alice(t, "POST", "/on", "site=shop&confirm=1&start=1h&until=2h&message="+huge, formCT)
	wantCode(t, r, http.StatusRequestEntityTooLarge, "form with a 1.1 MB message")
	if !strings.Contains(r.body, "over 65536 bytes") {
		t.Errorf("413 page does not say why:\n%s", r.body)
	}
	r = p.alice(t, "POST", "/api/on", `{"site":"shop","start":"1h","message":"`+huge+`"}`)
	wantCode(t, r, http.StatusRequestEntityTooLarge, "API with a 1.1 MB message")
	long := strings.Repeat("y", 5000)
	r = p.alice(t, "POST", "/on", "site=shop&confirm=1&start=1h&until=2h&message="+long, formCT)
	wantCode(t, r, http.StatusBadRequest, "form with a 5000-byte message")
	if !strings.Contains(r.body, "at most 4096") {
		t.Errorf("400 page does not say why:\n%.2000s", r.body)
	}
	wantCode(t, p.alice(t, "POST", "/api/on", `{"site":"shop","message":"`+long+`"}`), http.StatusBadRequest, "API with a 5000-byte message")
	if after := p.read(t, "maintenance.shop"); after != before {
		t.Fatalf("a refused message changed the flag:\n%.300s", after)
	}
}

// TestUnreadableWhitelistFormLeavesTheFile: a whitelist form the panel
// cannot read (multipart, as curl -F sends; a bad escape; too large; no
// text field) is refused and the file kept, never saved empty.
func TestUnreadableWhitelistFormLeavesTheFile(t *testing.T) {
	p := newTestPanel(t, "")
	before := p.read(t, "whitelist.txt")
	multipart := "--XX\r\nContent-Disposition: form-data; name=\"text\"; filename=\"wl.txt\"\r\n\r\n10.0.0.1\n\r\n--XX--\r\n"
	for _, c := range []struct {
		what, body, ct string
		code           int
	}{
		{"multipart", multipart, "Content-Type: multipart/form-data; boundary=XX", http.StatusUnsupportedMediaType},
		{"JSON", `{"text":"10.0.0.1"}`, "X-None: 1", http.StatusUnsupportedMediaType},
		{"bad escape", "text=%zz", formCT, http.StatusBadRequest},
		{"no text field", "txt=10.0.0.1", formCT, http.StatusBadRequest},
		{"too large", "text=" + strings.Repeat("%20", maxWhitelistBody/3+10), formCT, http.StatusRequestEntityTooLarge},
	} {
		r := p.alice(t, "POST", "/whitelist", c.body, c.ct)
		wantCode(t, r, c.code, c.what)
		if !strings.Contains(r.body, `id="error"`) {
			t.Errorf("%s: the page shows no error:\n%.2000s", c.what, r.body)
		}
		if got := p.read(t, "whitelist.txt"); got != before {
			t.Fatalf("%s: whitelist file now %q", c.what, got)
		}
	}
	// The other forms read their fields the same way.
	wantCode(t, p.alice(t, "POST", "/on", "message=x&confirm=1", "Content-Type: multipart/form-data; boundary=XX"), http.StatusUnsupportedMediaType, "multipart on")
	if p.read(t, "maintenance") != "" {
		t.Fatal("a multipart form switched maintenance on")
	}
}

// TestWhitelistOverTheReadLimit: a text the panel could not read back is
// refused by its size, by the form and the API, and the file stays
// readable; a change of many entries keeps its audit line small.
func TestWhitelistOverTheReadLimit(t *testing.T) {
	p := newTestPanel(t, "")
	var b strings.Builder
	for i := 0; b.Len() <= maxWhitelistText; i++ {
		fmt.Fprintf(&b, "10.%d.%d.%d\n", i>>16&255, i>>8&255, i&255)
	}
	big := b.String()
	r := p.alice(t, "POST", "/whitelist", "text="+url.QueryEscape(big), formCT)
	wantCode(t, r, http.StatusBadRequest, "form with a whitelist over 1 MiB")
	if !strings.Contains(r.body, "bytes; at most 1048576") {
		t.Errorf("the page does not say the size:\n%.2000s", r.body)
	}
	body := `{"text":` + fmt.Sprintf("%q", big) + `}`
	wantCode(t, p.alice(t, "PUT", "/api/whitelist", body), http.StatusBadRequest, "API with a whitelist over 1 MiB")
	wantCode(t, p.alice(t, "GET", "/api/whitelist", ""), http.StatusOK, "GET after the refused text")

	// 100 entries added: the audit line lists 20 and the count.
	lines := strings.SplitAfter(big, "\n")[:100]
	wantCode(t, p.alice(t, "PUT", "/api/whitelist", fmt.Sprintf(`{"text":%q}`, strings.Join(lines, ""))), http.StatusOK, "100 entries")
	var got struct{ Entries []audit.Entry }
	decodeJSON(t, p.alice(t, "GET", "/api/audit", ""), &got)
	if len(got.Entries) == 0 {
		t.Fatal("no audit entry")
	}
	d := got.Entries[0].Details
	if added, _ := d["added"].([]any); len(added) != auditEntries || d["added_count"] != float64(100) || d["removed_count"] != float64(1) {
		t.Errorf("audit details: %v", d)
	}
}

// TestBypassLinkHostIsTheRequestHost: X-Forwarded-Host's first value is
// the client's own (Apache appends after it), so the bypass link uses
// the Host Apache preserved, and the scheme Apache set (the last value).
func TestBypassLinkHostIsTheRequestHost(t *testing.T) {
	p := newTestPanel(t, "")
	r := p.alice(t, "POST", "/api/token", `{"label":"qa"}`, "Host: shop.example",
		"X-Forwarded-Host: evil.example, shop.example", "X-Forwarded-Proto: http, https")
	wantCode(t, r, http.StatusOK, "token")
	var tok tokenResponse
	decodeJSON(t, r, &tok)
	if !strings.HasPrefix(tok.URL, "https://shop.example/maintgate-bypass?token=") {
		t.Errorf("bypass link %q", tok.URL)
	}
}

// TestConfirmationShowsTheValues: the page without script shows the
// message as typed, not Go's [message].
func TestConfirmationShowsTheValues(t *testing.T) {
	p := newTestPanel(t, "")
	r := p.alice(t, "POST", "/on", "message=Back+soon&until=1h", formCT)
	wantCode(t, r, http.StatusOK, "confirmation")
	if !strings.Contains(r.body, "Message: Back soon<br>Until: 1h<br>") {
		t.Errorf("confirmation page:\n%s", r.body)
	}
}
