package main

import (
	"context"
	"flag"
	"fmt"
	"os/user"
	"strings"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

// runOn switches maintenance on, or updates the metadata of a maintenance
// already on, for the server-wide switch or each --site. Flags given
// replace their field; fields not given are kept, so `on --message "…"`
// never clears an end time set before. Every site's new flag is made and
// checked before any is written: a bad flag changes nothing anywhere.
func runOn(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "on")
	var o onFlags
	fs.StringVar(&o.message, "message", "", "message shown on the maintenance page")
	fs.StringVar(&o.until, "until", "", "end `time`: 90m, 14:30, \"2026-12-01 06:00\" or RFC 3339; maintenance ends by itself then; none drops an end time kept from an earlier 'maintgate on'")
	fs.StringVar(&o.start, "start", "", "start `time`, same forms as --until; maintenance begins by itself then")
	fs.Var(&o.allow, "allow", "`IP/CIDR` whitelisted for this maintenance window only (repeatable)")
	fs.Var(&o.allowPaths, "allow-path", "path `prefix` open for this maintenance window only, like allow_paths (repeatable)")
	fs.Var(&o.sites, "site", "switch the site `NAME` ([sites.NAME], or default: the server-wide switch) (repeatable); without it, the server-wide switch")
	fs.BoolVar(&o.clear, "clear", false, "drop the message, times, --allow and --allow-path entries kept from an earlier 'maintgate on' before applying these flags")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { o.set[fl.Name] = true })
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	names, err := siteNames(cfg, "on", o.sites, []string{config.DefaultSite})
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Second)
	all := switches(cfg)
	next := make([]siteSwitch, 0, len(names))
	for _, n := range names {
		s, err := o.change(e, all[n], now)
		if err != nil {
			return err
		}
		next = append(next, s)
	}
	for _, s := range next {
		if err := flagfile.Write(s.flagFile, s.flag); err != nil {
			return err
		}
	}
	was := make(map[string]siteSwitch, len(next))
	for _, s := range next {
		was[s.name] = all[s.name]
		all[s.name] = s
	}
	if err := writeStateMap(cfg, all, now); err != nil {
		return fmt.Errorf("%w (the flag is set; maintgate map will retry)", err)
	}
	waitApplied(e, cfg, names)
	renderPages(e, cfg, all, names, now)
	for _, s := range next {
		printOn(e, was[s.name].active(now), s, now)
		o.noteKept(e, was[s.name], s, now)
	}
	return nil
}

// onFlags are the flags of `on`; set names those given.
type onFlags struct {
	message, until, start string
	allow, allowPaths     multi
	sites                 multi
	clear                 bool
	set                   map[string]bool
}

// change is the switch s after the flags, not yet written. A flag file
// that cannot be read is replaced (a warning says so).
func (o *onFlags) change(e *env, s siteSwitch, now time.Time) (siteSwitch, error) {
	if s.err != nil {
		warnf(e, "%v; its metadata is replaced", s.err)
	}
	f := s.flag
	if o.clear || !s.present {
		f = flagfile.Flag{}
	}
	if !o.set["until"] && !f.Until.IsZero() && !f.Until.After(now) {
		// An end time that has passed would keep the site open: a plain
		// `on` means down. noteKept says it was dropped.
		f.Until = time.Time{}
	}
	if err := o.apply(&f, now); err != nil {
		return s, err
	}
	if f.SetAt.IsZero() {
		f.SetAt = now.UTC()
	}
	if u, err := user.Current(); err == nil {
		f.SetBy = u.Username
	}
	s.present, s.flag, s.err = true, f, nil
	return s, nil
}

// apply writes the flags given into f, checking each; an error is a usage
// error and f is then not to be written.
func (o *onFlags) apply(f *flagfile.Flag, now time.Time) error {
	var err error
	if o.set["message"] {
		f.Message = o.message
	}
	if o.set["until"] && strings.TrimSpace(o.until) == "none" {
		f.Until = time.Time{}
	} else if o.set["until"] {
		if f.Until, err = flagfile.ParseWhen(o.until, now); err != nil {
			return usageError("on: --until %v", err)
		}
		if !f.Until.After(now) {
			return usageError("on: --until %s is in the past", f.Until.Format(time.RFC3339))
		}
	}
	if o.set["start"] {
		if f.Start, err = flagfile.ParseWhen(o.start, now); err != nil {
			return usageError("on: --start %v", err)
		}
	}
	if !f.Start.IsZero() && !f.Until.IsZero() && !f.Start.Before(f.Until) {
		if !o.set["until"] {
			return usageError("on: --start %s is not before the end time %s kept from the earlier 'maintgate on': give a later --until, or drop the end time with --until none (or --clear)",
				f.Start.Local().Format(time.RFC3339), f.Until.Local().Format(time.RFC3339))
		}
		return usageError("on: --start must be before --until")
	}
	for _, a := range o.allow {
		if _, err := whitelist.ParseEntry(a); err != nil {
			return usageError("on: --allow: %v", err)
		}
	}
	if len(o.allow) > 0 {
		f.Allow = o.allow
	}
	if len(o.allowPaths) > 0 {
		if f.AllowPaths, err = windowPaths(o.allowPaths); err != nil {
			return err
		}
	}
	return nil
}

// windowPaths checks and cleans the --allow-path prefixes the way
// allow_paths is cleaned ("/static//" is "/static/"), so status shows
// what the map compares with. "/" is refused: it would open the whole
// site, which is `maintgate off`.
func windowPaths(given []string) ([]string, error) {
	out := make([]string, 0, len(given))
	for _, p := range given {
		switch {
		case !strings.HasPrefix(p, "/"):
			return nil, usageError("on: --allow-path %q must start with /", p)
		case strings.ContainsAny(p, "?# \t\r\n"):
			return nil, usageError("on: --allow-path %q: a path prefix has no query, fragment or white space", p)
		}
		c := authz.CleanPath(p)
		if c == "/" {
			return nil, usageError("on: --allow-path %q would open every path: use maintgate off", p)
		}
		out = append(out, c)
	}
	return out, nil
}

// printOn says what `on` did to one switch (updated: it was on before),
// then the flag it wrote.
func printOn(e *env, wasOn bool, s siteSwitch, now time.Time) {
	verb := "maintenance on"
	switch {
	case !s.flag.ActiveAt(now):
		verb = "maintenance scheduled"
	case wasOn:
		verb = "maintenance updated"
	}
	fmt.Fprintf(e.stdout, "%s%s (flag %s)\n", verb, siteLabel(s.name), s.flagFile)
	printFlag(e, s.flag, now)
}

// noteKept tells the operator, on stderr, that `on` kept the end time of
// an earlier `on` (the site then reopens by itself, which a plain `on`
// rarely means) and how to drop it; or that it dropped one that had
// passed.
func (o *onFlags) noteKept(e *env, before, after siteSwitch, now time.Time) {
	if o.set["until"] || o.clear || !before.present || before.flag.Until.IsZero() {
		return
	}
	was := before.flag.Until
	if after.flag.Until.IsZero() {
		fmt.Fprintf(e.stderr, "# dropped the end time %s kept from the earlier 'maintgate on'%s: it has passed; maintenance stays on until maintgate off%s\n",
			was.Local().Format(time.RFC3339), siteLabel(after.name), siteFlag(after.name))
		return
	}
	fmt.Fprintf(e.stderr, "# kept the end time %s (%s) from the earlier 'maintgate on'%s: maintenance ends by itself then; to stay down, drop it: maintgate on%s --until none (or --clear)\n",
		was.Local().Format(time.RFC3339), rel(was, now), siteLabel(after.name), siteFlag(after.name))
}
