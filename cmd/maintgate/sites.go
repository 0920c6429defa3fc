package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// sites.go: what on, off, status and check share about sites: the --site
// flag checked against the configuration, and one site's switch as read
// from its flag file.

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

// siteSwitch is one site's own switch as its flag file says now.
type siteSwitch struct {
	name     string
	flagFile string
	present  bool
	flag     flagfile.Flag
	// err: the flag is present but unreadable; it counts as on, with no
	// metadata (fail closed, as the map reads it).
	err error
}

// readSwitch reads the flag of a site siteNames accepted.
func readSwitch(cfg *config.Config, name string) siteSwitch {
	path, _ := cfg.FlagFileOf(name)
	present, f, err := flagfile.Read(path)
	return siteSwitch{name: name, flagFile: path, present: present, flag: f, err: err}
}

// Switch states, as status prints them.
const (
	stateOn        = "on"
	stateOff       = "off"
	stateScheduled = "scheduled" // flag present, window not open yet
	stateEnded     = "ended"     // flag present, window closed
)

// state says where the switch stands at now.
func (s siteSwitch) state(now time.Time) string {
	switch {
	case !s.present:
		return stateOff
	case s.flag.ActiveAt(now):
		return stateOn
	case !s.flag.Start.IsZero() && now.Before(s.flag.Start):
		return stateScheduled
	default:
		return stateEnded
	}
}

func (s siteSwitch) active(now time.Time) bool { return s.state(now) == stateOn }

// pending: the flag holds a window that is open or still to come, which
// is what the site's page should show.
func (s siteSwitch) pending(now time.Time) bool {
	st := s.state(now)
	return st == stateOn || st == stateScheduled
}

// switches reads the server-wide switch and the switch of every site
// configured: the state map and the pages follow from all of them.
func switches(cfg *config.Config) map[string]siteSwitch {
	all := make(map[string]siteSwitch, len(cfg.Sites)+1)
	for _, n := range cfg.SiteNames() {
		all[n] = readSwitch(cfg, n)
	}
	return all
}

// inMaintenance: a site is in maintenance when the server-wide switch or
// its own is on (DESIGN.md, Sites).
func inMaintenance(all map[string]siteSwitch, name string, now time.Time) bool {
	own, server := all[name], all[config.DefaultSite]
	return own.active(now) || server.active(now)
}

// siteLabel is how output names a site: nothing for the server-wide
// switch, so its lines read as they did before sites.
func siteLabel(name string) string {
	if name == config.DefaultSite {
		return ""
	}
	return fmt.Sprintf(" for site %s", name)
}

// writeStateMap brings the state map in step with every switch, so
// Apache sees the change at the next request of each site. The lines are
// the ones the map's own watcher writes (gate.syncState: every site,
// default first, in config.SiteNames order), so the two never disagree
// over the file and rewrite it back and forth.
func writeStateMap(cfg *config.Config, all map[string]siteSwitch, now time.Time) error {
	names := cfg.SiteNames()
	lines := make([]flagfile.SiteState, 0, len(names))
	for _, n := range names {
		st := flagfile.Off
		if inMaintenance(all, n, now) {
			st = flagfile.On
		}
		lines = append(lines, flagfile.SiteState{Name: n, State: st})
	}
	_, err := flagfile.WriteStates(cfg.StateMap, lines)
	return err
}
