package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// Actor says who changed a switch and through what, for the audit log
// and the flag's set_by.
type Actor struct {
	Who string // the panel's signed-in user, or the Unix user
	Via string // "cli" or "panel"
}

// UnixActor is the user running the command: under sudo, root and the
// user who ran sudo, so the log names a person.
func UnixActor() Actor {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	if s := os.Getenv("SUDO_USER"); s != "" && s != who {
		who += " (sudo " + s + ")"
	}
	return Actor{Who: who, Via: "cli"}
}

// setBy is the flag's set_by: the user, and the panel when it was that.
func (a Actor) setBy() string {
	if a.Via == "" || a.Via == "cli" {
		return a.Who
	}
	return a.Who + " (" + a.Via + ")"
}

// Remote is the fleet's store (issue 14). Apply is written before the
// local flag files, and its error stops the change before anything local
// is written, so the fleet never splits; it makes the whole change (every
// site named) at once. Flags is read first: on builds each site's new
// flag on the fleet's, not on this host's file (which may be missing, on
// an admin box, or differ, after --local). Between the two another
// change may land; the later write wins whole (docs/fleet.md).
type Remote interface {
	Flags(ctx context.Context, sites []string) (map[string][]byte, error)
	Apply(ctx context.Context, changes []RemoteChange) error
}

// RemoteChange is one site's part of a change: its new flag bytes, or
// nil for off. Checked: Base is what Flags returned for the site (nil:
// absent), and the store makes the change only if it still holds that,
// so that of two operators' changes at one moment, neither silently drops
// the other's fields.
type RemoteChange struct {
	Site    string
	Flag    []byte
	Checked bool
	Base    []byte
}

// ErrConflict marks a change refused because another change landed
// between its read and its write (the fleet's WATCH): nothing was
// changed, and running it again is safe.
var ErrConflict = errors.New("another change landed at the same moment")

// Controller makes changes for one actor under one configuration.
type Controller struct {
	Config *config.Config
	Actor  Actor
	Remote Remote           // nil: this host only
	Now    func() time.Time // nil: time.Now
}

// Result says what a change did, for the command's output or the panel.
type Result struct {
	Now      time.Time    // the time the change was decided at
	Sites    []SiteResult // one per site named, in order
	All      Switches     // every switch after the change
	Warnings []string     // did not stop the change
	Notes    []string     // for the operator: kept end times, sites still down
}

// SiteResult is one site's switch before and after.
type SiteResult struct {
	Name          string
	Before, After Switch
}

func (c *Controller) now() time.Time {
	if c.Now != nil {
		return c.Now().Truncate(time.Second)
	}
	return time.Now().Truncate(time.Second)
}

// Sites checks names against the configuration before anything is
// written; none is the server-wide switch. A name given twice counts once.
func (c *Controller) Sites(names []string) ([]string, error) {
	if len(names) == 0 {
		return []string{config.DefaultSite}, nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if _, err := c.Config.FlagFileOf(n); err != nil {
			return nil, &InputError{Msg: err.Error()}
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// On switches maintenance on (or updates the window of one already on)
// for each site named; none is the server-wide switch. Every site's new
// flag is made and checked before any is written.
func (c *Controller) On(ctx context.Context, sites []string, ch Change) (Result, error) {
	names, err := c.Sites(sites)
	if err != nil {
		return Result{}, err
	}
	now := c.now()
	all := Read(c.Config)
	base, raw, err := c.base(ctx, names, all)
	if err != nil {
		return Result{}, err
	}
	r := Result{Now: now}
	next := make([]Switch, 0, len(names))
	for _, n := range names {
		s := base[n]
		if s.Err != nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%v; its metadata is replaced", s.Err))
		}
		f, err := ch.next(s, c.Actor, now)
		if err != nil {
			return Result{}, err
		}
		s.Present, s.Flag, s.Err = true, f, nil
		next = append(next, s)
	}
	data, changes, err := c.encode(next, raw)
	if err != nil {
		return Result{}, err
	}
	if err := c.remoteApply(ctx, changes); err != nil {
		return Result{}, err
	}
	var werr error
	for i, s := range next {
		if err := flagfile.WriteAtomic(s.FlagFile, data[i], 0o644); err != nil {
			werr = c.localFailed(fmt.Errorf("flag file %s: %w", s.FlagFile, err))
			break
		}
	}
	if werr != nil && c.Remote == nil {
		return Result{}, werr
	}
	after := maps(all)
	for _, s := range next {
		r.Sites = append(r.Sites, SiteResult{Name: s.Name, Before: base[s.Name], After: s})
		after[s.Name] = s
	}
	c.finish(&r, after, names, "on")
	for _, sr := range r.Sites {
		if n := ch.kept(sr, now); n != "" {
			r.Notes = append(r.Notes, n)
		}
	}
	return r, werr
}

// Off ends maintenance for each site named; none is the server-wide
// switch. A site stays in maintenance while the server-wide switch is on,
// and the server-wide off leaves sites switched on by their own flag
// down: the Notes say so.
func (c *Controller) Off(ctx context.Context, sites []string) (Result, error) {
	names, err := c.Sites(sites)
	if err != nil {
		return Result{}, err
	}
	before := Read(c.Config)
	changes := make([]RemoteChange, len(names))
	for i, n := range names {
		changes[i] = RemoteChange{Site: n}
	}
	if err := c.remoteApply(ctx, changes); err != nil {
		return Result{}, err
	}
	var werr error
	for _, n := range names {
		if err := flagfile.Remove(before[n].FlagFile); err != nil {
			werr = c.localFailed(err)
			break
		}
	}
	if werr != nil && c.Remote == nil {
		return Result{}, werr
	}
	r := Result{Now: c.now()}
	after := Read(c.Config)
	for _, n := range names {
		r.Sites = append(r.Sites, SiteResult{Name: n, Before: before[n], After: after[n]})
	}
	c.finish(&r, after, names, "off")
	r.Notes = append(r.Notes, stillDown(c.Config, after, names, r.Now)...)
	return r, werr
}

// encode makes each new flag's bytes, checked to fit, and the fleet's
// change of them, checked against the fleet's bytes on read (raw).
func (c *Controller) encode(next []Switch, raw map[string][]byte) ([][]byte, []RemoteChange, error) {
	data := make([][]byte, len(next))
	changes := make([]RemoteChange, len(next))
	for i, s := range next {
		var err error
		if data[i], err = flagfile.Encode(s.Flag); err != nil {
			return nil, nil, fmt.Errorf("flag of %s: %w", s.Name, err)
		}
		if len(data[i]) > MaxFlagSize {
			return nil, nil, inputErr("the flag of %s would be %d bytes; at most %d: fewer --allow or --allow-path entries", s.Name, len(data[i]), MaxFlagSize)
		}
		changes[i] = RemoteChange{Site: s.Name, Flag: data[i], Checked: c.Remote != nil, Base: raw[s.Name]}
	}
	return data, changes, nil
}

// base is each named site's switch that on builds on: this host's flag
// files, or, with the fleet, what Redis holds (a missing key: off), so
// an on from a host without a map, or after --local, keeps the fleet's
// window. An unreachable Redis fails the change as Apply would. raw
// are the fleet's bytes, which Apply checks are still there.
func (c *Controller) base(ctx context.Context, names []string, local Switches) (Switches, map[string][]byte, error) {
	if c.Remote == nil {
		return local, nil, nil
	}
	flags, err := c.Remote.Flags(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	out := make(Switches, len(names))
	for _, n := range names {
		s := Switch{Name: n, FlagFile: local[n].FlagFile}
		if data, ok := flags[n]; ok {
			s.Present = true
			if s.Flag, s.Err = flagfile.Parse(data); s.Err != nil {
				s.Err = fmt.Errorf("the fleet's flag of %s: %w", n, s.Err)
			}
		}
		out[n] = s
	}
	return out, flags, nil
}

// remoteApply writes the whole change to the fleet, when there is one.
func (c *Controller) remoteApply(ctx context.Context, changes []RemoteChange) error {
	if c.Remote == nil {
		return nil
	}
	return c.Remote.Apply(ctx, changes)
}

// localFailed is the error of a local write that failed. With the fleet
// the change is already made for every host: it is recorded all the
// same, and the error says this host catches up by itself.
func (c *Controller) localFailed(err error) error {
	if c.Remote == nil {
		return err
	}
	return fmt.Errorf("%w: the fleet has the change (Redis holds it) but this host's flag file is not written; this host's maintgate map will mirror it at its next sync", err)
}

// finish brings the state map and the pages in step with the switches,
// waits for the map, and writes the audit lines. Nothing here undoes the
// change: a failure is a warning (the map's watcher rewrites the state
// map from the flags within 0.1 s anyway).
func (c *Controller) finish(r *Result, all Switches, names []string, action string) {
	r.All = all
	if err := writeStateMap(c.Config, all, r.Now); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%v (the flag is written; maintgate map will retry)", err))
	}
	if w := waitApplied(c.Config, names); w != "" {
		r.Warnings = append(r.Warnings, w)
	}
	r.Warnings = append(r.Warnings, renderPages(c.Config, all, names, r.Now)...)
	if !Audited(c.Config) {
		return
	}
	for _, sr := range r.Sites {
		if err := audit.Append(c.Config.Panel.AuditLog, c.entry(action, sr, r.Now)); err != nil {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%v: the change is made but not recorded", err))
		}
	}
}

// Audited says whether changes are recorded: audit_log is set, and,
// when it is the default, its directory exists. The package makes
// /var/log/maintgate; an install by hand that has not made it records
// nothing rather than warn at every change (`config check` says so). An
// audit_log set by the operator that cannot be written is a warning.
func Audited(cfg *config.Config) bool {
	p := cfg.Panel.AuditLog
	if p == "" {
		return false
	}
	if p == config.DefaultAuditLog {
		if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

// entry is the audit line of one site's change: the state before and
// the window after.
func (c *Controller) entry(action string, sr SiteResult, now time.Time) audit.Entry {
	d := map[string]any{"was": sr.Before.State(now)}
	if action == "on" {
		f := sr.After.Flag
		d["state"] = sr.After.State(now)
		putNonZero(d, "message", f.Message)
		putTime(d, "start", f.Start)
		putTime(d, "until", f.Until)
		if len(f.Allow) > 0 {
			d["allow"] = f.Allow
		}
		if len(f.AllowPaths) > 0 {
			d["allow_paths"] = f.AllowPaths
		}
	}
	if c.Remote != nil {
		d["fleet"] = true
	}
	return audit.Entry{Time: now, Who: c.Actor.Who, Via: c.Actor.Via, Action: action, Site: sr.Name, Details: d}
}

func putNonZero(d map[string]any, k, v string) {
	if v != "" {
		d[k] = v
	}
}

func putTime(d map[string]any, k string, t time.Time) {
	if !t.IsZero() {
		d[k] = t.UTC().Format(time.RFC3339)
	}
}

func maps(all Switches) Switches {
	out := make(Switches, len(all))
	for k, v := range all {
		out[k] = v
	}
	return out
}
