package authz

import (
	"net/netip"
	"testing"
	"time"

	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

// TestSitePolicyAndWindows: a site's policy (ForSite) and its window with
// the server-wide one behind it. The site "shop" replaces allow_paths,
// keeps the top-level admin_paths and adds 192.0.2.0/24 to the whitelist.
func TestSitePolicyAndWindows(t *testing.T) {
	top := decisionPolicy(t)
	extra, _ := whitelist.New([]string{"192.0.2.0/24"}, "test", "sites.shop.whitelist")
	shop := top.ForSite(SiteRules{AllowPaths: []string{"/shop-static/", "/maintenance.html"}, Whitelist: extra})
	noAdmin := top.ForSite(SiteRules{AdminPaths: []string{}})
	allow := func(e ...string) *whitelist.List { l, _ := whitelist.New(e, "flag", "allow"); return l }

	off := &Window{}
	server := &Window{Present: true, Allow: allow("198.51.100.0/24"), Paths: []string{"/health/"}}
	later := &Window{Present: true, Flag: flagfile.Flag{Start: now.Add(time.Hour)}, Allow: allow("203.0.113.0/24"), Paths: []string{"/late/"}}
	own := func(srv *Window) *Window {
		return &Window{Present: true, Allow: allow("2001:db8:9::/48"), Paths: []string{"/hooks/"}, Server: srv}
	}
	upOnServer := func(srv *Window) *Window { return &Window{Server: srv} }

	tests := []struct {
		name   string
		p      *Policy
		w      *Window
		peer   string
		path   string
		allow  bool
		reason Reason
	}{
		{"site up, server up", shop, upOnServer(off), "203.0.113.7", "/x", true, Inactive},
		{"site up, server down", shop, upOnServer(server), "203.0.113.7", "/x", false, Redirected},
		{"site up, server scheduled later", shop, upOnServer(later), "203.0.113.7", "/x", true, Inactive},
		{"site down, server up", shop, own(off), "203.0.113.7", "/x", false, Redirected},
		{"site down, server down", shop, own(server), "203.0.113.7", "/x", false, Redirected},
		// paths: the site's allow_paths replace the top-level ones
		{"site allow_paths", shop, own(off), "203.0.113.7", "/shop-static/a.css", true, AllowedPath},
		{"top allow_paths replaced", shop, own(off), "203.0.113.7", "/static/a.css", false, Redirected},
		{"top admin_paths kept", shop, own(off), "203.0.113.7", "/de/admin/", true, AdminPath},
		{"admin_paths set empty", noAdmin, own(off), "203.0.113.7", "/admin/", false, Redirected},
		// whitelists: the site's added to the top-level one
		{"site whitelist", shop, own(off), "192.0.2.9", "/x", true, Whitelisted},
		{"top whitelist kept", shop, own(off), "10.1.2.3", "/x", true, Whitelisted},
		{"site whitelist not in top", top, own(off), "192.0.2.9", "/x", false, Redirected},
		// --allow of both windows count, each while it is active
		{"own --allow", shop, own(off), "2001:db8:9::1", "/x", true, WindowAllow},
		{"server --allow on a site down by its own flag", shop, own(server), "198.51.100.9", "/x", true, WindowAllow},
		{"own --allow while only the server is down", shop, &Window{Present: true, Flag: flagfile.Flag{Until: now}, Allow: allow("2001:db8:9::/48"), Server: server}, "2001:db8:9::1", "/x", false, Redirected},
		{"server --allow of a window not open", shop, own(later), "203.0.113.7", "/x", false, Redirected},
		// --allow-path of both windows count, segment-bounded
		{"own --allow-path", shop, own(off), "203.0.113.7", "/hooks/pay", true, AllowedPath},
		{"own --allow-path, other segment", shop, own(off), "203.0.113.7", "/hooksx", false, Redirected},
		{"own --allow-path, dot segments", shop, own(off), "203.0.113.7", "/hooks/../x", false, Redirected},
		{"server --allow-path", shop, own(server), "203.0.113.7", "/health/db", true, AllowedPath},
		{"server --allow-path, site up", shop, upOnServer(server), "203.0.113.7", "/health", true, AllowedPath},
		{"server --allow-path of a window not open", shop, own(later), "203.0.113.7", "/late/x", false, Redirected},
	}
	for _, tc := range tests {
		d := Decide(tc.p, tc.w, Request{Peer: netip.MustParseAddr(tc.peer), Path: tc.path}, now, nil)
		if d.Allow != tc.allow || d.Reason != tc.reason {
			t.Errorf("%s: %s %s: allow=%v (%s), want %v (%s)", tc.name, tc.peer, tc.path, d.Allow, d.Reason, tc.allow, tc.reason)
		}
		if d.Reason == AllowedPath && (d.Detail == WindowPathDetail) != (tc.path == "/hooks/pay" || tc.path[:7] == "/health") {
			t.Errorf("%s: detail %q", tc.name, d.Detail)
		}
	}
	if len(top.AllowPaths) != 4 || top.Whitelist.Contains(netip.MustParseAddr("192.0.2.9")) {
		t.Error("ForSite changed the top-level policy")
	}
}
