// Package preflight finds the setup mistakes that `maintgate map` forgives
// but that leave the site working other than the operator meant: a
// whitelist entry the map skips (a host-bit typo such as 192.168.5.0/22
// locks that office out), a page template that is not there, session
// bypass switched on without a session store, a Django key that verifies
// none of the application's sessions, a token key the install made but the
// config does not name. The map stays lenient (it skips, warns and goes
// on: Apache depends on it); `maintgate config check` reports each of
// these as a problem, with its file and line, and fails.
//
// Files: preflight.go is Check and Problem; entries.go the whitelists;
// setup.go the page templates, session bypass and token key; key.go the
// Django key; lines.go where a key is written in the config file.
package preflight

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/authz/session"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/internal/regfile"
)

// Problem is one mistake, placed where it is fixed.
type Problem struct {
	// Where is "config FILE:LINE: KEY" or "whitelist FILE:LINE", the
	// line left out when it cannot be told.
	Where string
	// What is wrong and what to do about it.
	What string
	// Skipped is the warning the map logs for this mistake when it skips
	// it, "" when it does not: config check prints it once, as a problem.
	Skipped string
}

func (p Problem) String() string { return p.Where + ": " + p.What }

// Options are what Check looks at.
type Options struct {
	Config *config.Config
	// Sessions is the checker the map would use; nil when session.store
	// is "none". Its secrets are checked against the newest sessions.
	Sessions *session.Checker
	// InstalledKeys are where an install leaves a token key
	// (InstalledKeys(config path) gives them).
	InstalledKeys []string
}

// Report is what Check found: Problems fail the check; Notes are what it
// verified, one line each, for the operator.
type Report struct {
	Problems []Problem
	Notes    []string
	Warnings []string
}

// KeySessions is how many of the newest sessions the Django key is
// checked against: enough that one stale row cannot decide, few enough
// to cost nothing.
const KeySessions = 20

// InstalledKeys are where the package and the README put the token key:
// /etc/maintgate/token.key, and token.key beside the config file.
func InstalledKeys(configPath string) []string {
	keys := []string{"/etc/maintgate/token.key"}
	if beside := filepath.Join(filepath.Dir(configPath), "token.key"); beside != keys[0] {
		keys = append(keys, beside)
	}
	return keys
}

// Check reads the config file again (for the lines and for which keys it
// sets itself, not by default) and reports every mistake it finds. The
// error is for a config file it cannot read.
func Check(ctx context.Context, o Options) (*Report, error) {
	cfg := o.Config
	data, err := regfile.Read(cfg.Path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", cfg.Path, err)
	}
	c := &checker{cfg: cfg, data: data, md: md, r: &Report{}}
	c.whitelists()
	c.pages()
	c.sessionBypass()
	c.tokenKey(o.InstalledKeys)
	c.operate()
	c.djangoKey(ctx, o.Sessions)
	return c.r, nil
}

// checker holds what the checks share.
type checker struct {
	cfg  *config.Config
	data []byte
	md   toml.MetaData
	r    *Report
}

// at is "config FILE:LINE: name" for the config key k (name when it
// differs from the key, as "whitelist[2]").
func (c *checker) at(line int, name string) string {
	if line > 0 {
		return fmt.Sprintf("config %s:%d: %s", c.cfg.Path, line, name)
	}
	return fmt.Sprintf("config %s: %s", c.cfg.Path, name)
}

func (c *checker) problem(where, what string) {
	c.r.Problems = append(c.r.Problems, Problem{Where: where, What: what})
}
