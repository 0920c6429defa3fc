package config

import (
	"strings"
	"testing"
)

func TestSites(t *testing.T) {
	c, err := Parse([]byte(`flag_file = "/var/lib/maintgate/maintenance"
[sites.shop]
allow_paths = ["/static//", "/healthz"]
whitelist = ["192.0.2.0/24"]
[sites.blog]
flag_file = "blog.flag"
`), "/etc/maintgate/maintgate.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.SiteNames(), " "); got != "default blog shop" {
		t.Errorf("SiteNames: %q", got)
	}
	for site, want := range map[string]string{
		"default": "/var/lib/maintgate/maintenance",
		"shop":    "/var/lib/maintgate/maintenance.shop",
		"blog":    "/etc/maintgate/blog.flag",
	} {
		if got, err := c.FlagFileOf(site); err != nil || got != want {
			t.Errorf("FlagFileOf(%s) = %q, %v; want %q", site, got, err, want)
		}
	}
	if got := c.Sites["shop"].AllowPaths; strings.Join(got, " ") != "/static/ /healthz" {
		t.Errorf("shop allow_paths %q", got)
	}
	if c.Sites["blog"].AllowPaths != nil {
		t.Errorf("blog allow_paths %q, want nil (the top-level list)", c.Sites["blog"].AllowPaths)
	}
	_, err = c.FlagFileOf("shopp")
	if err == nil || !strings.Contains(err.Error(), "default, blog, shop") {
		t.Errorf("unknown site: %v, want the configured sites listed", err)
	}
}

func TestSitesInvalid(t *testing.T) {
	for text, want := range map[string]string{
		"[sites.Shop]\n":                                        "t.toml:2: sites.Shop: a site name is lower-case",
		"[sites.default]\n":                                     "t.toml:2: sites.default: \"default\" is the server-wide switch",
		"[sites.\"-x\"]\n":                                      "sites.-x: a site name",
		"[sites.state]\n":                                       "t.toml:2: sites.state: \"state\" is the state map's server-wide line",
		"[sites.shop]\nallow_path = [\"/x\"]\n":                 "t.toml:3: unknown key \"sites.shop.allow_path\"",
		"[sites.shop]\nallow_paths = [\"x\"]\n":                 "t.toml:3: sites.shop.allow_paths[0]: \"x\" must start with /",
		"[sites.shop]\npage_file = \"p.html\"\n":                "page_template and page_file go together",
		"[sites.a]\nflag_file = \"maintenance\"\n":              "sites.a.flag_file: /x/maintenance is also flag_file",
		"[sites.a]\n[sites.b]\nflag_file = \"maintenance.a\"\n": "sites.b.flag_file: /x/maintenance.a is also sites.a.flag_file",
	} {
		_, err := Parse([]byte("flag_file = \"/x/maintenance\"\n"+text), "/x/t.toml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
