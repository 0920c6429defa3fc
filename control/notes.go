package control

import (
	"fmt"
	"strings"
	"time"

	"github.com/maintgate/maintgate/config"
)

// notes.go: what the operator should be told after a change, beyond
// what it did.

// kept says that `on` kept the end time of an earlier `on` (the site then
// reopens by itself, which a plain `on` rarely means) and how to drop it;
// or that it dropped one that had passed.
func (ch Change) kept(sr SiteResult, now time.Time) string {
	before, after := sr.Before, sr.After
	if ch.Set["until"] || ch.Clear || !before.Present || before.Flag.Until.IsZero() {
		return ""
	}
	was := before.Flag.Until
	if after.Flag.Until.IsZero() {
		return fmt.Sprintf("dropped the end time %s kept from the earlier 'maintgate on'%s: it has passed; maintenance stays on until maintgate off%s",
			was.Local().Format(time.RFC3339), SiteLabel(sr.Name), SiteFlag(sr.Name))
	}
	return fmt.Sprintf("kept the end time %s (%s) from the earlier 'maintgate on'%s: maintenance ends by itself then; to stay down, drop it: maintgate on%s --until none (or --clear)",
		was.Local().Format(time.RFC3339), Rel(was, now), SiteLabel(sr.Name), SiteFlag(sr.Name))
}

// stillDown names the sites just switched off that are still in
// maintenance, and why.
func stillDown(cfg *config.Config, all Switches, names []string, now time.Time) []string {
	var own, out []string
	for _, n := range cfg.SiteNames()[1:] {
		if all[n].Active(now) {
			own = append(own, n)
		}
	}
	for _, n := range names {
		if n == config.DefaultSite {
			if len(own) > 0 {
				out = append(out, fmt.Sprintf("still in maintenance by their own switch: %s (maintgate off --site NAME)", strings.Join(own, ", ")))
			}
		} else if all.InMaintenance(n, now) {
			out = append(out, fmt.Sprintf("site %s stays in maintenance while the server-wide switch is on (maintgate off)", n))
		}
	}
	return out
}

// SiteLabel is how output names a site: nothing for the server-wide
// switch, so its lines read as they did before sites.
func SiteLabel(name string) string {
	if name == config.DefaultSite {
		return ""
	}
	return " for site " + name
}

// SiteFlag is the --site flag that names a site in a command to copy,
// nothing for the server-wide switch.
func SiteFlag(name string) string {
	if name == config.DefaultSite {
		return ""
	}
	return " --site " + name
}

// Rel says how far t is from now, in words: "in 1h30m0s", "5m0s ago",
// "now".
func Rel(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d == 0 {
		return "now"
	}
	if d > 0 {
		return "in " + d.String()
	}
	return (-d).String() + " ago"
}
