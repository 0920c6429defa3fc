package explain

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/maintgate/maintgate/authz"
)

func TestDecision(t *testing.T) {
	client := netip.MustParseAddr("203.0.113.7")
	for _, c := range []struct {
		d    authz.Decision
		want string
	}{
		{authz.Decision{Allow: true, Reason: authz.Inactive}, "allow: maintenance is not active"},
		{authz.Decision{Allow: true, Reason: authz.AllowedPath}, "allow: /static/app.css is an always-allowed path (allow_paths)"},
		{authz.Decision{Allow: true, Reason: authz.AdminPath}, "allow: /static/app.css is under an admin prefix"},
		{authz.Decision{Allow: true, Reason: authz.Whitelisted, Client: client}, "allow: client 203.0.113.7 is in the whitelist"},
		{authz.Decision{Allow: true, Reason: authz.WindowAllow, Client: client}, "allow: client 203.0.113.7 is allowed for this maintenance window"},
		{authz.Decision{Allow: true, Reason: authz.Token, Detail: "label bob"}, "allow: valid bypass token (label bob)"},
		{authz.Decision{Allow: true, Reason: authz.Superuser, UserID: "42", Detail: "member of group qa"}, "allow: session of user id 42: member of group qa (session.allow)"},
		{authz.Decision{Reason: authz.Redirected, Client: client}, "redirect: maintenance is active and no rule lets client 203.0.113.7 reach /static/app.css"},
		{authz.Decision{Reason: authz.Redirected, Client: client, Detail: "token rejected"}, "reach /static/app.css (token rejected)"},
	} {
		got := Decision(c.d, "/static/app.css")
		if !strings.Contains(got, c.want) {
			t.Errorf("%v: got %q, want it to contain %q", c.d.Reason, got, c.want)
		}
		if first, _, _ := strings.Cut(got, ":"); (first == "allow") != c.d.Allow {
			t.Errorf("%v: %q starts with %q, but Allow is %v", c.d.Reason, got, first, c.d.Allow)
		}
	}
}
