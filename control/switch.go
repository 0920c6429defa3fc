// Package control switches maintenance on and off: what `maintgate on`,
// `off` and `status` and the control panel share, so a change made from
// either is made the same way, checked the same way and recorded once.
//
// A change is checked whole before anything is written (an error in the
// third site named changes nothing for the first two), then written in
// the order that keeps Apache right at every step: the fleet's store, the
// flag files, the state map, the pages; then it waits for the running
// map's acknowledgement and appends the audit line.
//
// Files, by job:
//
//	switch.go   Switch and Switches: each site's flag as read now, its state
//	change.go   Change: the window an `on` asks for, checked; InputError
//	control.go  Controller: On, Off, and the Result they report
//	files.go    the state map and the pages that follow from the switches
//	wait.go     waiting for the map's acknowledgement of a change
package control

import (
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// Switch is one site's own switch, as its flag file says now.
type Switch struct {
	Name     string
	FlagFile string
	Present  bool
	Flag     flagfile.Flag
	// Err: the flag is present but unreadable; it counts as on, with no
	// metadata (fail closed, as the map reads it).
	Err error
}

// Switch states, as status and the panel show them.
const (
	On        = "on"
	Off       = "off"
	Scheduled = "scheduled" // flag present, window not open yet
	Ended     = "ended"     // flag present, window closed
)

// State says where the switch stands at now.
func (s Switch) State(now time.Time) string {
	switch {
	case !s.Present:
		return Off
	case s.Flag.ActiveAt(now):
		return On
	case !s.Flag.Start.IsZero() && now.Before(s.Flag.Start):
		return Scheduled
	default:
		return Ended
	}
}

// Active: the switch is on and its window open.
func (s Switch) Active(now time.Time) bool { return s.State(now) == On }

// Pending: the flag holds a window that is open or still to come, which
// is what the site's page should show.
func (s Switch) Pending(now time.Time) bool {
	st := s.State(now)
	return st == On || st == Scheduled
}

// ReadSwitch reads the flag of a configured site.
func ReadSwitch(cfg *config.Config, name string) Switch {
	path, _ := cfg.FlagFileOf(name)
	present, f, err := flagfile.Read(path)
	return Switch{Name: name, FlagFile: path, Present: present, Flag: f, Err: err}
}

// Switches are every configured site's switch, the server-wide one
// (config.DefaultSite) among them: the state map and the pages follow
// from all of them.
type Switches map[string]Switch

// Read reads every switch cfg configures.
func Read(cfg *config.Config) Switches {
	all := make(Switches, len(cfg.Sites)+1)
	for _, n := range cfg.SiteNames() {
		all[n] = ReadSwitch(cfg, n)
	}
	return all
}

// InMaintenance: a site is in maintenance when the server-wide switch or
// its own is on (DESIGN.md, Sites).
func (all Switches) InMaintenance(name string, now time.Time) bool {
	return all[name].Active(now) || all[config.DefaultSite].Active(now)
}
