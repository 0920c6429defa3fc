package preflight

import (
	"fmt"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/whitelist"

	"github.com/maintgate/maintgate/config"
)

// What a skipped entry costs, said after the entry's own error.
const (
	lockedOut = "the map skips it, so these clients are sent to the maintenance page: fix it or delete it"
	notProxy  = "the map skips it, so X-Forwarded-For from this proxy does not count: fix it or delete it"
)

// whitelists reports every entry the map would skip: of whitelist,
// trusted_proxies, whitelist_file, and each site's whitelist and
// whitelist_file. A file that cannot be read is left to the load, which
// fails on it already.
func (c *checker) whitelists() {
	cfg := c.cfg
	c.list(toml.Key{"whitelist"}, cfg.Whitelist, lockedOut)
	c.list(toml.Key{"trusted_proxies"}, cfg.TrustedProxies, notProxy)
	c.file(cfg.WhitelistFile)
	for _, name := range cfg.SiteNames()[1:] {
		s := cfg.Sites[name]
		c.list(toml.Key{"sites", name, "whitelist"}, s.Whitelist, lockedOut)
		c.file(s.WhitelistFile)
	}
}

// list reports the bad entries of the config list at key k. Each names
// the line of its entry, and is also the warning the map logs (the same
// whitelist.New call).
func (c *checker) list(k toml.Key, entries []string, cost string) {
	_, probs := whitelist.New(entries, c.cfg.Path, k.String())
	for _, p := range probs {
		line := config.LineOfEntry(c.data, k, entries[p.Index])
		c.r.Problems = append(c.r.Problems, Problem{
			Where:   c.at(line, fmt.Sprintf("%s[%d]", k, p.Index)),
			What:    fmt.Sprintf("%v: %s", p.Err, cost),
			Skipped: p.Error(),
		})
	}
}

// file reports the bad lines of a whitelist file.
func (c *checker) file(path string) {
	if path == "" {
		return
	}
	_, probs, err := whitelist.Load(path)
	if err != nil {
		return
	}
	for _, p := range probs {
		c.r.Problems = append(c.r.Problems, Problem{
			Where:   fmt.Sprintf("whitelist %s:%d", p.File, p.Line),
			What:    fmt.Sprintf("%v: %s", p.Err, lockedOut),
			Skipped: p.Error(),
		})
	}
}
