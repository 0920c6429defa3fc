package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/page"

	"github.com/maintgate/maintgate/config"
)

// pages renders each page_template as `maintgate on` would, into memory:
// a missing or broken template is found now, not when the site goes down
// and `on` can only warn that the page still shows the last message.
func (c *checker) pages() {
	c.page(toml.Key{"page_template"}, c.cfg.PageTemplate)
	for _, name := range c.cfg.SiteNames()[1:] {
		c.page(toml.Key{"sites", name, "page_template"}, c.cfg.Sites[name].PageTemplate)
	}
}

func (c *checker) page(k toml.Key, tmpl string) {
	if tmpl == "" {
		return
	}
	where := c.at(config.LineOf(c.data, k), k.String())
	if _, err := os.Stat(tmpl); errors.Is(err, fs.ErrNotExist) {
		c.problem(where, fmt.Sprintf("%s does not exist, so `maintgate on` cannot render the maintenance page: create it or fix the path", tmpl))
		return
	}
	now := time.Now()
	sample := flagfile.Flag{Message: "Back soon", Start: now, Until: now.Add(time.Hour)}
	if _, err := page.Render(tmpl, page.NewData(true, sample, now)); err != nil {
		c.problem(where, fmt.Sprintf("%v: fix the template", err))
	}
}

// sessionBypass: allow_admin_during_maintenance = true written in the
// file, with no session store, lets nobody through, silently. The
// default (true) with store "none" is no mistake: an empty file is a
// valid configuration and must stay one.
func (c *checker) sessionBypass() {
	const key = "allow_admin_during_maintenance"
	if !c.md.IsDefined(key) || !c.cfg.AllowAdminDuringMaintenance || c.cfg.Session.Store != "none" {
		return
	}
	c.problem(c.at(config.LineOf(c.data, toml.Key{key}), key),
		`true, but session.store is "none": no session is checked, so no superuser can pass; `+
			`set store = "django" under [session] (with database and secret_key_file), or remove the line`)
}

// tokenKey: the package (and the README) make a token key; a config that
// does not name it has bypass tokens off, and `maintgate token issue`
// fails, though the operator believes them on.
func (c *checker) tokenKey(installed []string) {
	if c.cfg.Token.KeyFile != "" {
		return
	}
	for _, p := range installed {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		line := config.LineOf(c.data, toml.Key{"token", "key_file"})
		if line == 0 {
			line = config.LineOf(c.data, toml.Key{"token"})
		}
		c.problem(c.at(line, "token.key_file"), fmt.Sprintf(
			"empty, but the install made a token key at %s: set key_file = %q under [token] to turn bypass tokens on, or delete the file to keep them off",
			p, p))
		return
	}
}
