package main

import (
	"context"
	"fmt"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// runStatus prints the line the original shell check printed, then the
// details an operator wants next. It exits 0 either way: "inactive" is a
// state, not an error.
func runStatus(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "status")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Second)
	present, f, ferr := flagfile.Read(cfg.FlagFile)
	active := present && f.ActiveAt(now)
	if active {
		fmt.Fprintln(e.stdout, "Maintenance Mode: ACTIVE")
	} else {
		fmt.Fprintln(e.stdout, "Maintenance Mode: INACTIVE")
	}
	switch {
	case ferr != nil:
		fmt.Fprintf(e.stdout, "  flag:    %s (present but unreadable: treated as active with no metadata)\n", cfg.FlagFile)
	case present && !active && !f.Start.IsZero() && now.Before(f.Start):
		fmt.Fprintf(e.stdout, "  flag:    %s (present; window not open yet)\n", cfg.FlagFile)
	case present && !active:
		fmt.Fprintf(e.stdout, "  flag:    %s (present; window has ended: run maintgate off to remove it)\n", cfg.FlagFile)
	case present:
		fmt.Fprintf(e.stdout, "  flag:    %s\n", cfg.FlagFile)
	default:
		fmt.Fprintf(e.stdout, "  flag:    %s (absent)\n", cfg.FlagFile)
	}
	if present {
		printFlag(e, f, now)
	}
	if cfg.StateMap != "" {
		want := flagfile.Off
		if active {
			want = flagfile.On
		}
		got := flagfile.ReadState(cfg.StateMap)
		switch {
		case got == "":
			fmt.Fprintf(e.stdout, "  warning: state map %s is missing or unreadable: Apache refuses to start without it, and a running Apache asks maintgate for every request; run maintgate %s to write it\n", cfg.StateMap, want)
		case got != want:
			fmt.Fprintf(e.stdout, "  warning: state map %s says %s but maintenance is %s; maintgate map corrects it within %s if it runs, or run maintgate %s\n", cfg.StateMap, got, want, "0.1s", want)
		default:
			fmt.Fprintf(e.stdout, "  state:   %s says %s\n", cfg.StateMap, got)
		}
	}
	return nil
}

var _ = config.DefaultPath
