package main

import (
	"context"
	"flag"
	"fmt"
	"os/user"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

// runOn switches maintenance on, or updates the metadata of a maintenance
// already on. Flags given replace their field; fields not given are kept,
// so `on --message "…"` never clears an end time set before.
func runOn(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "on")
	var o onFlags
	fs.StringVar(&o.message, "message", "", "message shown on the maintenance page")
	fs.StringVar(&o.until, "until", "", "end `time`: 90m, 14:30, \"2026-12-01 06:00\" or RFC 3339; maintenance ends by itself then")
	fs.StringVar(&o.start, "start", "", "start `time`, same forms as --until; maintenance begins by itself then")
	fs.Var(&o.allow, "allow", "`IP/CIDR` whitelisted for this maintenance window only (repeatable)")
	fs.BoolVar(&o.clear, "clear", false, "drop the message, times and --allow entries kept from an earlier 'maintgate on' before applying these flags")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { o.set[fl.Name] = true })
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Second)
	present, f, err := flagfile.Read(cfg.FlagFile)
	if err != nil {
		warnf(e, "%v; its metadata is replaced", err)
	}
	if o.clear || !present {
		f = flagfile.Flag{}
	}
	if err := o.apply(&f, now); err != nil {
		return err
	}
	if f.SetAt.IsZero() {
		f.SetAt = now.UTC().Truncate(time.Second)
	}
	if u, err := user.Current(); err == nil {
		f.SetBy = u.Username
	}
	if err := flagfile.Write(cfg.FlagFile, f); err != nil {
		return err
	}
	state := flagfile.Off
	if f.ActiveAt(now) {
		state = flagfile.On
	}
	if _, err := flagfile.WriteState(cfg.StateMap, state); err != nil {
		return fmt.Errorf("%w (the flag is set; maintgate map will retry)", err)
	}
	if err := renderPage(cfg, true, f); err != nil {
		warnf(e, "%v", err)
	}
	verb := "maintenance on"
	if present {
		verb = "maintenance updated"
	}
	if state == flagfile.Off {
		verb = "maintenance scheduled"
	}
	fmt.Fprintf(e.stdout, "%s (flag %s)\n", verb, cfg.FlagFile)
	printFlag(e, f, now)
	return nil
}

// onFlags are the flags of `on`; set names those given.
type onFlags struct {
	message, until, start string
	allow                 multi
	clear                 bool
	set                   map[string]bool
}

// apply writes the flags given into f, checking each; an error is a usage
// error and f is then not to be written.
func (o *onFlags) apply(f *flagfile.Flag, now time.Time) error {
	var err error
	if o.set["message"] {
		f.Message = o.message
	}
	if o.set["until"] {
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
	return nil
}

// runOff ends maintenance: the flag goes, and the state map says off so
// Apache stops asking at once.
func runOff(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "off")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	present, _, _ := flagfile.Read(cfg.FlagFile)
	if err := flagfile.Remove(cfg.FlagFile); err != nil {
		return err
	}
	if _, err := flagfile.WriteState(cfg.StateMap, flagfile.Off); err != nil {
		return fmt.Errorf("%w (the flag is removed; maintgate map will retry)", err)
	}
	if err := renderPage(cfg, false, flagfile.Flag{}); err != nil {
		warnf(e, "%v", err)
	}
	if present {
		fmt.Fprintln(e.stdout, "maintenance off")
	} else {
		fmt.Fprintln(e.stdout, "maintenance was already off")
	}
	return nil
}

func printFlag(e *env, f flagfile.Flag, now time.Time) {
	if f.Message != "" {
		fmt.Fprintf(e.stdout, "  message: %s\n", f.Message)
	}
	if !f.Start.IsZero() {
		fmt.Fprintf(e.stdout, "  start:   %s (%s)\n", f.Start.Local().Format(time.RFC3339), rel(f.Start, now))
	}
	if !f.Until.IsZero() {
		fmt.Fprintf(e.stdout, "  until:   %s (%s)\n", f.Until.Local().Format(time.RFC3339), rel(f.Until, now))
	}
	for _, a := range f.Allow {
		fmt.Fprintf(e.stdout, "  allow:   %s (this window only)\n", a)
	}
	if !f.SetAt.IsZero() {
		by := ""
		if f.SetBy != "" {
			by = " by " + f.SetBy
		}
		fmt.Fprintf(e.stdout, "  set:     %s%s\n", f.SetAt.Local().Format(time.RFC3339), by)
	}
}

func rel(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d >= 0 {
		return "in " + d.String()
	}
	return (-d).String() + " ago"
}
