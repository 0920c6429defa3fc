package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultSite is the site of a key line without a fifth field, and the
// name the server-wide switch (the top-level flag_file) goes by wherever
// sites are listed.
const DefaultSite = "default"

// StateKey is the state map's line for the server-wide switch, read by
// vhosts that name no site; no site may take it as its name, or its line
// and the server-wide one would be the same key.
const StateKey = "state"

// Site is one [sites.NAME] table: a site of the server with a switch of
// its own. Every key is optional.
type Site struct {
	// FlagFile is the site's own switch; default "maintenance.NAME" beside
	// the top-level flag_file.
	FlagFile string `toml:"flag_file"`
	// AllowPaths and AdminPaths replace the top-level lists when set.
	AllowPaths []string `toml:"allow_paths"`
	AdminPaths []string `toml:"admin_paths"`
	// Whitelist and WhitelistFile are added to the top-level ones.
	Whitelist     []string `toml:"whitelist"`
	WhitelistFile string   `toml:"whitelist_file"`
	// PageTemplate and PageFile: the site's own maintenance page, rendered
	// by `maintgate on --site NAME` (both or neither).
	PageTemplate string `toml:"page_template"`
	PageFile     string `toml:"page_file"`
}

// ValidSiteName accepts [a-z0-9][a-z0-9_-]{0,62}: what Apache passes
// through a Define and int:escape unchanged, and what a file name can hold.
func ValidSiteName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// SiteNames lists the sites: DefaultSite first, then the configured ones
// in name order.
func (c *Config) SiteNames() []string {
	names := make([]string, 0, len(c.Sites)+1)
	for n := range c.Sites {
		names = append(names, n)
	}
	slices.Sort(names)
	return append([]string{DefaultSite}, names...)
}

// FlagFileOf returns the flag file of a site: the top-level flag_file for
// DefaultSite. A name the configuration does not define is an error that
// lists the sites it does.
func (c *Config) FlagFileOf(site string) (string, error) {
	if site == DefaultSite {
		return c.FlagFile, nil
	}
	s, ok := c.Sites[site]
	if !ok {
		return "", fmt.Errorf("site %q is not configured in %s (sites: %s)", site, c.Path, strings.Join(c.SiteNames(), ", "))
	}
	return s.FlagFile, nil
}

// validateSites checks the [sites.NAME] tables; data is the file's text,
// for line numbers.
func (c *Config) validateSites(data []byte) []string {
	var p []string
	for _, name := range c.SiteNames()[1:] {
		s := c.Sites[name]
		at := func(key string) string {
			k := toml.Key{"sites", name}
			if key != "" {
				k = append(k, key)
			}
			if n := lineOf(data, k); n > 0 {
				return fmt.Sprintf("config %s:%d: sites.%s", c.Path, n, name)
			}
			return fmt.Sprintf("config %s: sites.%s", c.Path, name)
		}
		switch {
		case name == DefaultSite:
			p = append(p, at("")+": \"default\" is the server-wide switch: set its keys at the top level")
			continue
		case name == StateKey:
			p = append(p, at("")+": \"state\" is the state map's server-wide line: choose another name")
			continue
		case !ValidSiteName(name):
			p = append(p, at("")+": a site name is lower-case letters, digits, '-' and '_' (at most 63, starting with a letter or digit)")
			continue
		}
		for i, v := range s.AllowPaths {
			if !strings.HasPrefix(v, "/") {
				p = append(p, fmt.Sprintf("%s.allow_paths[%d]: %q must start with /", at("allow_paths"), i, v))
			}
		}
		for i, v := range s.AdminPaths {
			if !strings.HasPrefix(v, "/") || v == "/" {
				p = append(p, fmt.Sprintf("%s.admin_paths[%d]: %q must start with / and name a prefix", at("admin_paths"), i, v))
			}
		}
		if (s.PageTemplate == "") != (s.PageFile == "") {
			p = append(p, at("page_template")+".page_template: page_template and page_file go together")
		}
	}
	return p
}

// resolveSites fills each site's default flag file and makes its file
// names absolute (relative to dir, the config file's directory), after
// the top-level ones are; then it checks that no two switches share a
// file.
func (c *Config) resolveSites(dir string) []string {
	var p []string
	seen := map[string]string{c.FlagFile: "flag_file", c.StateMap: "state_map"}
	for _, name := range c.SiteNames()[1:] {
		s := c.Sites[name]
		if s.FlagFile == "" {
			s.FlagFile = filepath.Join(filepath.Dir(c.FlagFile), "maintenance."+name)
		}
		for _, f := range []*string{&s.FlagFile, &s.WhitelistFile, &s.PageTemplate, &s.PageFile} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(dir, *f)
			}
		}
		if s.AllowPaths != nil {
			s.AllowPaths = cleanPrefixes(s.AllowPaths)
		}
		if s.AdminPaths != nil {
			s.AdminPaths = cleanPrefixes(s.AdminPaths)
		}
		if other, ok := seen[s.FlagFile]; ok {
			p = append(p, fmt.Sprintf("config %s: sites.%s.flag_file: %s is also %s", c.Path, name, s.FlagFile, other))
		}
		seen[s.FlagFile] = "sites." + name + ".flag_file"
		c.Sites[name] = s
	}
	return p
}
