package main

import (
	"slices"

	"github.com/maintgate/maintgate/config"
)

// sites.go: the --site flag of status and check, checked against the
// configuration (on and off check theirs in control).

// siteNames checks every --site value against cfg before the command
// writes anything, so a typo in the third name changes nothing for the
// first two. A name the configuration does not define is a usage error
// that lists the sites it does (config.FlagFileOf's text). No --site
// gives def; a name given twice counts once.
func siteNames(cfg *config.Config, cmd string, given, def []string) ([]string, error) {
	if len(given) == 0 {
		return def, nil
	}
	names := make([]string, 0, len(given))
	for _, n := range given {
		if _, err := cfg.FlagFileOf(n); err != nil {
			return nil, usageError("%s: %v", cmd, err)
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}
