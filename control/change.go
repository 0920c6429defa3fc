package control

import (
	"fmt"
	"strings"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/whitelist"
)

// Change is what an `on` asks for. Times are as the operator typed them
// (flagfile.ParseWhen: 90m, 14:30, "2026-12-01 06:00", RFC 3339); Until
// "none" drops an end time kept from an earlier `on`.
type Change struct {
	Message, Until, Start string
	Allow, AllowPaths     []string
	// Set names the fields given ("message", "until", "start", "allow",
	// "allow_paths"); a field set replaces the flag's (an empty Until or
	// Start, or "none", drops the time); a field not set is kept from the
	// flag in place, so `on --message "…"` never clears an end time set
	// before. Clear drops every kept field first (the panel's form is the
	// whole window).
	Set   map[string]bool
	Clear bool
}

// Limits on what an `on` may write: a page shows a few sentences, and a
// flag file the map cannot read means maintenance on with no window
// (flagfile.MaxSize), so a flag is kept far below that.
const (
	MaxMessage  = 4096
	MaxFlagSize = 64 << 10
)

// InputError is a change asked for wrongly (a bad time, address, path or
// site name): nothing was changed. The command line exits 2 on it, the
// panel answers 400. Messages name fields by their command-line flags
// (--until), which the panel's form labels repeat.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErr(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// next is the flag s would hold after ch, not yet written. A flag that
// cannot be read is replaced (the warning says so).
func (ch Change) next(s Switch, by Actor, now time.Time) (flagfile.Flag, error) {
	f := s.Flag
	if ch.Clear || !s.Present {
		f = flagfile.Flag{}
	}
	if !ch.Set["until"] && !f.Until.IsZero() && !f.Until.After(now) {
		// An end time that has passed would keep the site open: a plain
		// `on` means down. kept() says it was dropped.
		f.Until = time.Time{}
	}
	if err := ch.apply(&f, now); err != nil {
		return f, err
	}
	if f.SetAt.IsZero() {
		f.SetAt = now.UTC()
	}
	f.SetBy = by.setBy()
	return f, nil
}

// apply writes the fields given into f, checking each.
func (ch Change) apply(f *flagfile.Flag, now time.Time) error {
	var err error
	if ch.Set["message"] {
		if len(ch.Message) > MaxMessage {
			return inputErr("--message is %d bytes; at most %d", len(ch.Message), MaxMessage)
		}
		f.Message = ch.Message
	}
	if ch.Set["until"] && (strings.TrimSpace(ch.Until) == "none" || strings.TrimSpace(ch.Until) == "") {
		f.Until = time.Time{}
	} else if ch.Set["until"] {
		if f.Until, err = flagfile.ParseWhen(ch.Until, now); err != nil {
			return inputErr("--until %v", err)
		}
		if !f.Until.After(now) {
			return inputErr("--until %s is in the past", f.Until.Format(time.RFC3339))
		}
	}
	if ch.Set["start"] && strings.TrimSpace(ch.Start) == "" {
		f.Start = time.Time{}
	} else if ch.Set["start"] {
		if f.Start, err = flagfile.ParseWhen(ch.Start, now); err != nil {
			return inputErr("--start %v", err)
		}
	}
	if !f.Start.IsZero() && !f.Until.IsZero() && !f.Start.Before(f.Until) {
		if !ch.Set["until"] {
			return inputErr("--start %s is not before the end time %s kept from the earlier 'maintgate on': give a later --until, or drop the end time with --until none (or --clear)",
				f.Start.Local().Format(time.RFC3339), f.Until.Local().Format(time.RFC3339))
		}
		return inputErr("--start must be before --until")
	}
	if ch.Set["allow"] {
		for _, a := range ch.Allow {
			if _, err := whitelist.ParseEntry(a); err != nil {
				return inputErr("--allow: %v", err)
			}
		}
		f.Allow = ch.Allow
	}
	if ch.Set["allow_paths"] {
		paths, err := windowPaths(ch.AllowPaths)
		if err != nil {
			return err
		}
		f.AllowPaths = paths
	}
	return nil
}

// windowPaths checks and cleans the window's path prefixes the way
// allow_paths is cleaned ("/static//" is "/static/"), so status shows
// what the map compares with. "/" is refused: it would open the whole
// site, which is `maintgate off`.
func windowPaths(given []string) ([]string, error) {
	out := make([]string, 0, len(given))
	for _, p := range given {
		switch {
		case !strings.HasPrefix(p, "/"):
			return nil, inputErr("--allow-path %q must start with /", p)
		case strings.ContainsAny(p, "?# \t\r\n"):
			return nil, inputErr("--allow-path %q: a path prefix has no query, fragment or white space", p)
		}
		c := authz.CleanPath(p)
		if c == "/" {
			return nil, inputErr("--allow-path %q would open every path: use maintgate off", p)
		}
		out = append(out, c)
	}
	return out, nil
}
