package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
			fmt.Fprintf(e.stdout, "  warning: state map %s says %s but maintenance is %s; maintgate map corrects it within 0.1s if it runs, or run maintgate %s\n", cfg.StateMap, got, want, want)
		default:
			fmt.Fprintf(e.stdout, "  state:   %s says %s\n", cfg.StateMap, got)
		}
	}
	if pids := mapProcesses(); len(pids) > 0 {
		fmt.Fprintf(e.stdout, "  map:     running (pid %s)\n", strings.Trim(fmt.Sprint(pids), "[]"))
	} else if active {
		fmt.Fprintln(e.stdout, "  warning: no maintgate map process is running on this host: if Apache runs here, every gated request is redirected, admins included; a graceful restart (systemctl reload apache2) starts it again")
	}
	return nil
}

// mapProcesses lists the pids of running `maintgate map` processes, read
// from /proc: Apache does not restart a map that died, and nothing else
// would tell the operator.
func mapProcesses() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) >= 2 && filepath.Base(args[0]) == "maintgate" && args[1] == "map" {
			pids = append(pids, pid)
		}
	}
	return pids
}
