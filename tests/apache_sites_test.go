package tests

// Sites (issue 10) through a real Apache: one Apache, one `maintgate map`,
// three vhosts naming their site with `Define MAINTGATE_SITE` (shop on two
// ports, blog) and, after them, the vhost on a.port, which names none.
// Every assertion is what a client of one vhost sees.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sitesTOML configures the sites shop and blog, with nothing of their own.
const sitesTOML = "[sites.shop]\n[sites.blog]\n"

// startSites starts the Apache of these tests: the MG_SITES vhosts and
// sitesTOML unless o says otherwise.
func startSites(t *testing.T, o apacheOpts) *apacheEnv {
	t.Helper()
	o.sites = true
	if o.tomlTail == "" {
		o.tomlTail = sitesTOML
	}
	return startApache(t, o)
}

// vhostName is how a message names a vhost ("" is the one without a site).
func vhostName(v string) string {
	if v == "" {
		return "the vhost without MAINTGATE_SITE"
	}
	return v
}

// siteGet requests path from one vhost ("shop", "shop2", "blog", or "" for
// the vhost without a site).
func (a *apacheEnv) siteGet(t testing.TB, vhost, path string, headers ...string) apReply {
	t.Helper()
	saved := a.base
	a.base = a.siteBase(t, vhost)
	defer func() { a.base = saved }()
	return a.get(t, path, headers...)
}

// wantSiteDown checks that vhost sends path to its own maintenance page.
func (a *apacheEnv) wantSiteDown(t testing.TB, vhost, path, what string) {
	t.Helper()
	r := a.siteGet(t, vhost, path)
	want := a.siteBase(t, vhost) + "/maintenance.html"
	if r.status != http.StatusFound || r.header.Get("Location") != want {
		t.Errorf("%s: %s %s: got %v, want 302 to %s", what, vhostName(vhost), path, r, want)
	}
}

// wantSiteUp checks that vhost passes path to the application.
func (a *apacheEnv) wantSiteUp(t testing.TB, vhost, path, what string) {
	t.Helper()
	apWantBackend(t, a.siteGet(t, vhost, path), path, what+": "+vhostName(vhost))
}

// wantSites checks every vhost at once: down lists those that must show
// the maintenance page, the others must be up.
func (a *apacheEnv) wantSites(t testing.TB, path, what string, down ...string) {
	t.Helper()
	for _, v := range []string{"shop", "shop2", "blog", ""} {
		isDown := false
		for _, d := range down {
			isDown = isDown || d == v
		}
		if isDown {
			a.wantSiteDown(t, v, path, what)
		} else {
			a.wantSiteUp(t, v, path, what)
		}
	}
}

// linesFor returns the key lines whose path field is path.
func (a *apacheEnv) linesFor(path string) []string {
	var out []string
	for _, l := range a.keyLines() {
		if f := strings.Split(l, " "); len(f) > 1 && f[1] == path {
			out = append(out, l)
		}
	}
	return out
}

func TestApacheSiteOnTakesDownOnlyThatSiteOnAllItsVhosts(t *testing.T) {
	a := startSites(t, apacheOpts{})
	a.wantSites(t, "/de/map/", "every site up")

	mg(t, a.cfg, 0, "on", "--site", "shop")
	a.wantSites(t, "/de/map/", "on --site shop", "shop", "shop2")
	// The map was told which site asked: both shop vhosts send "shop".
	apEventually(t, time.Second, func() string {
		lines := a.linesFor("/de/map/")
		if len(lines) != 2 {
			return fmt.Sprintf("on --site shop: %d key lines for /de/map/, want 2 (the shop vhosts): %q", len(lines), a.keyLines())
		}
		for _, l := range lines {
			if l != "127.0.0.1 /de/map/   shop" {
				return fmt.Sprintf("key line %q, want %q", l, "127.0.0.1 /de/map/   shop")
			}
		}
		return ""
	})
	// Always-allowed paths and the page itself stay reachable on shop.
	apWantStatus(t, a.siteGet(t, "shop", "/robots.txt"), 200, "on --site shop: shop /robots.txt")
	apWantStatus(t, a.siteGet(t, "shop2", "/maintenance.html"), 200, "on --site shop: shop2 /maintenance.html")
	// blog is up: its page sends a visitor back home.
	r := a.siteGet(t, "blog", "/maintenance.html")
	if r.status != http.StatusFound || r.header.Get("Location") != a.siteBase(t, "blog")+"/" {
		t.Errorf("on --site shop: blog /maintenance.html: got %v, want 302 home (blog is up)", r)
	}

	mg(t, a.cfg, 0, "off", "--site", "shop")
	a.wantSites(t, "/de/map/", "off --site shop")
}

func TestApacheServerWideOnTakesDownEverySiteAndSiteOffKeepsItDown(t *testing.T) {
	a := startSites(t, apacheOpts{})
	mg(t, a.cfg, 0, "on")
	a.wantSites(t, "/de/map/", "server-wide on", "shop", "shop2", "blog", "")

	// A site's own switch cannot open it while the server-wide one is on.
	mg(t, a.cfg, 0, "on", "--site", "shop")
	mg(t, a.cfg, 0, "off", "--site", "shop")
	a.wantSites(t, "/de/map/", "server-wide on, off --site shop", "shop", "shop2", "blog", "")

	// And the server-wide off does not open a site whose own switch is on.
	mg(t, a.cfg, 0, "on", "--site", "blog")
	mg(t, a.cfg, 0, "off")
	a.wantSites(t, "/de/map/", "on --site blog, server-wide off", "blog")
	mg(t, a.cfg, 0, "off", "--site", "blog")
	a.wantSites(t, "/de/map/", "everything off")
}

// The vhost without MAINTGATE_SITE comes after blog's in the configuration:
// Define is server-wide, so without the snippet's UnDefine it would be
// blog.
func TestApacheVhostWithoutSiteFollowsServerWideSwitchOnly(t *testing.T) {
	a := startSites(t, apacheOpts{})
	mg(t, a.cfg, 0, "on", "--site", "blog")
	mg(t, a.cfg, 0, "on", "--site", "shop")
	a.wantSiteUp(t, "", "/nosite/", "shop and blog down")
	if l := a.linesFor("/nosite/"); len(l) != 0 {
		t.Errorf("shop and blog down: the vhost without a site asked the map: %q", l)
	}
	mg(t, a.cfg, 0, "off", "--site", "blog")
	mg(t, a.cfg, 0, "off", "--site", "shop")

	mg(t, a.cfg, 0, "on")
	a.wantSiteDown(t, "", "/nosite/", "server-wide on")
	apEventually(t, time.Second, func() string {
		if l := a.linesFor("/nosite/"); len(l) != 1 || l[0] != "127.0.0.1 /nosite/   default" {
			return fmt.Sprintf("server-wide on: key lines %q, want one naming the site default", l)
		}
		return ""
	})
	mg(t, a.cfg, 0, "off")
	a.wantSiteUp(t, "", "/nosite/", "server-wide off")
}

// /webhook, not /healthz: the shipped example maintgate.toml always allows
// /healthz already.
func TestApacheAllowPathOpensExactlyThatPrefixOnThatSite(t *testing.T) {
	a := startSites(t, apacheOpts{})
	mg(t, a.cfg, 0, "on", "--site", "shop", "--allow-path", "/webhook")
	mg(t, a.cfg, 0, "on", "--site", "blog")
	for _, v := range []string{"shop", "shop2"} {
		a.wantSiteUp(t, v, "/webhook", "--allow-path /webhook")
		a.wantSiteUp(t, v, "/webhook/stripe", "--allow-path /webhook")
		a.wantSiteDown(t, v, "/webhookx", "--allow-path /webhook")
		a.wantSiteDown(t, v, "/de/map/", "--allow-path /webhook")
	}
	// (Waiting for blog to be down first keeps this test to --allow-path;
	// TestApacheSiteOnIsSeenAtTheNextRequestWhileAnotherSiteIsBusy checks
	// that it is down at once.)
	apEventually(t, time.Second, func() string {
		if r := a.siteGet(t, "blog", "/de/map/"); r.status != http.StatusFound {
			return fmt.Sprintf("on --site blog: blog got %v, want 302", r)
		}
		return ""
	})
	a.wantSiteDown(t, "blog", "/webhook", "--allow-path /webhook was given to shop only")

	// The path belongs to that window: dropped with the window's other
	// entries (--clear), it is closed again.
	mg(t, a.cfg, 0, "on", "--site", "shop", "--clear")
	apEventually(t, time.Second, func() string {
		if r := a.siteGet(t, "shop", "/webhook"); r.status != http.StatusFound {
			return fmt.Sprintf("on --site shop --clear: /webhook got %v, want 302", r)
		}
		return ""
	})
}

// `maintgate on --site blog` writes blog's line of the state map; the map
// process, answering for shop (down) right after, must not write it back
// to what it knew before it read blog's new flag: blog's next request is
// gated.
func TestApacheSiteOnIsSeenAtTheNextRequestWhileAnotherSiteIsBusy(t *testing.T) {
	a := startSites(t, apacheOpts{})
	mg(t, a.cfg, 0, "on", "--site", "shop")
	for i := 0; i < 10; i++ {
		mg(t, a.cfg, 0, "on", "--site", "blog")
		a.wantSiteDown(t, "shop", "/de/map/", fmt.Sprintf("round %d, on --site blog", i))
		a.wantSiteDown(t, "blog", "/de/map/", fmt.Sprintf("round %d, on --site blog, then a request to shop", i))
		mg(t, a.cfg, 0, "off", "--site", "blog")
		a.wantSiteDown(t, "shop", "/de/map/", fmt.Sprintf("round %d, off --site blog", i))
		a.wantSiteUp(t, "blog", "/de/map/", fmt.Sprintf("round %d, off --site blog, then a request to shop", i))
	}
}

func TestApacheSiteFlagTouchedAndRemovedByHandIsSeen(t *testing.T) {
	a := startSites(t, apacheOpts{})
	flag := filepath.Join(filepath.Dir(a.flag), "maintenance.blog")
	apWriteFile(t, flag, "")
	apEventually(t, time.Second, func() string {
		if r := a.siteGet(t, "blog", "/de/map/"); r.status != http.StatusFound {
			return fmt.Sprintf("touch %s: blog got %v, want 302", flag, r)
		}
		return ""
	})
	a.wantSites(t, "/de/map/", "touch maintenance.blog", "blog")

	apMust(t, os.Remove(flag))
	apEventually(t, time.Second, func() string {
		if r := a.siteGet(t, "blog", "/de/map/"); r.status != http.StatusOK {
			return fmt.Sprintf("rm %s: blog got %v, want 200", flag, r)
		}
		return ""
	})
	a.wantSites(t, "/de/map/", "rm maintenance.blog")
}

func TestApacheNoKeyLinesWhileEverySiteIsUp(t *testing.T) {
	a := startSites(t, apacheOpts{})
	paths := []string{"/", "/de/map/", "/admin/", "/api/v1/items", "/cacheable"}
	send := func(what string) {
		for i := 0; i < 5; i++ {
			for _, v := range []string{"shop", "shop2", "blog", ""} {
				for _, p := range paths {
					apWantStatus(t, a.siteGet(t, v, p, "Cookie: sessionid=abc"), 200, what+": "+vhostName(v)+" "+p)
				}
			}
		}
	}
	send("every site up")
	if n := a.lookups(); n != 0 {
		t.Fatalf("every site up: the map received %d key lines, want 0:\n%s", n, strings.Join(a.keyLines(), "\n"))
	}

	// The counter works: one request to a site that is down is one line.
	mg(t, a.cfg, 0, "on", "--site", "shop")
	a.wantSiteDown(t, "shop", "/de/map/", "on --site shop")
	apEventually(t, time.Second, func() string {
		if n := a.lookups(); n != 1 {
			return fmt.Sprintf("one request to shop while it is down: %d lines, want 1: %q", n, a.keyLines())
		}
		return ""
	})
	mg(t, a.cfg, 0, "off", "--site", "shop")
	send("every site up again")
	if n := a.lookups(); n != 1 {
		t.Errorf("every site up again: %d key lines in all, want still 1:\n%s", n, strings.Join(a.keyLines(), "\n"))
	}
}

// shopPageTOML gives shop a page of its own, where maintgate-fallback.conf
// looks for it (MAINTGATE_WWW/sites/shop/).
func shopPageTOML() string {
	return fmt.Sprintf("[sites.shop]\npage_template = %q\npage_file = \"@DIR@/page/sites/shop/maintenance.html\"\n[sites.blog]\n",
		filepath.Join(repoRoot, "apache-conf/maintenance.html.tmpl"))
}

// shopPageFiles puts shop's page in place before Apache reads its
// configuration (the fallback snippet chooses the page then).
func shopPageFiles(t *testing.T) map[string]string {
	t.Helper()
	html, err := os.ReadFile(filepath.Join(repoRoot, "apache-conf/maintenance.html"))
	apMust(t, err)
	json, err := os.ReadFile(filepath.Join(repoRoot, "apache-conf/maintenance.json"))
	apMust(t, err)
	return map[string]string{
		"page/sites/shop/maintenance.html": string(html),
		"page/sites/shop/maintenance.json": string(json),
	}
}

func TestApacheSiteWithItsOwnPageShowsItsMessage(t *testing.T) {
	a := startSites(t, apacheOpts{tomlTail: shopPageTOML(), files: shopPageFiles(t)})
	mg(t, a.cfg, 0, "on", "--site", "shop", "--message", "The shop moves house")
	mg(t, a.cfg, 0, "on", "--site", "blog", "--message", "Blog upgrade")
	for _, v := range []string{"shop", "shop2"} {
		a.wantSiteDown(t, v, "/de/map/", "on --site shop")
		apWantPage(t, a.siteGet(t, v, "/maintenance.html"), 200, []string{"The shop moves house"}, v+" /maintenance.html")
	}
	// blog has no page of its own: the shared one, never shop's. (Once
	// blog is seen down: while it is up its page sends visitors home.)
	apEventually(t, time.Second, func() string {
		if r := a.siteGet(t, "blog", "/de/map/"); r.status != http.StatusFound {
			return fmt.Sprintf("on --site blog: blog got %v, want 302", r)
		}
		return ""
	})
	r := a.siteGet(t, "blog", "/maintenance.html")
	apWantPage(t, r, 200, nil, "blog /maintenance.html")
	if strings.Contains(r.body, "The shop moves house") {
		t.Errorf("blog /maintenance.html shows shop's message:\n%s", r.body)
	}
}

func TestApacheSites503VariantAnswersPerSite(t *testing.T) {
	a := startSites(t, apacheOpts{variant: "503", tomlTail: shopPageTOML(), files: shopPageFiles(t)})
	mg(t, a.cfg, 0, "on", "--site", "shop", "--message", "The shop moves house")
	for _, v := range []string{"shop", "shop2"} {
		apWantPage(t, a.siteGet(t, v, "/de/map/"), 503, []string{"The shop moves house"}, "503 variant, on --site shop: "+v)
		apWantJSON503(t, a.siteGet(t, v, "/de/map/", "Accept: application/json"), "503 variant, on --site shop: "+v+", API client")
	}
	a.wantSiteUp(t, "blog", "/de/map/", "503 variant, on --site shop")
	a.wantSiteUp(t, "", "/de/map/", "503 variant, on --site shop")
}

// The checker of maintgate-authz.conf decides for the vhost's site: a
// site in maintenance asks for a password there, and a wrong one is
// refused, even while the server-wide switch (the site default) is off.
func TestApacheAuthzCheckerDecidesForTheVhostsSite(t *testing.T) {
	a := startSites(t, apacheOpts{authz: true})
	mg(t, a.cfg, 0, "on", "--site", "shop")
	apWantStatus(t, a.siteGet(t, "shop", "/staff/"), 401, "on --site shop: shop /staff/ without credentials")
	apWantStatus(t, a.siteGet(t, "shop", "/staff/", apBasicAuth("nobody", "wrong")), 401, "on --site shop: shop /staff/ with a wrong password")
	a.wantSiteUp(t, "blog", "/staff/", "on --site shop: blog is up, its /staff/ is open")
}

// A key line longer than the map reads whole is cut before its fifth
// field (Apache reads header fields up to 64 KiB here, three times that
// escaped): the site that asked must still be kept down.
func TestApacheCutKeyLineFromASiteThatIsDownIsRedirected(t *testing.T) {
	a := startSites(t, apacheOpts{server: []string{"LimitRequestFieldSize 65536"}})
	mg(t, a.cfg, 0, "on", "--site", "shop")
	cookie := "Cookie: filler=" + strings.Repeat("%", 60000)
	r := a.siteGet(t, "shop", "/de/map/", cookie)
	want := a.siteBase(t, "shop") + "/maintenance.html"
	if r.status != http.StatusFound || r.header.Get("Location") != want {
		t.Errorf("on --site shop, a 60000-byte cookie of %%: got %v, want 302 to %s", r, want)
	}
	a.wantSiteUp(t, "blog", "/de/map/", "on --site shop")
}
