package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/gate"
)

// statusUsage is status's usage line; what the first line means is part
// of the contract scripts rely on.
const statusUsage = `status [--site NAME]... [--fleet] print ACTIVE or INACTIVE, and every site's switch
` + statusCont + `ACTIVE: without --site, the server-wide switch is on;
` + statusCont + `with --site, a site named is in maintenance`

// statusCont indents statusUsage's continuation lines under its text.
const statusCont = "                                             "

// runStatus prints the line the original shell check printed, then what
// concerns the whole server (the map process, a missing state map), then
// each site's switch, default first.
// It exits 0 either way: "inactive" is a state, not an error.
//
// The first line keeps its meaning for scripts written before sites:
// without --site it is the server-wide switch (a site down by its own
// switch does not make the server ACTIVE); with --site it says whether a
// site named is in maintenance, by its own switch or the server-wide one,
// so `status --site shop` answers "is shop down".
func runStatus(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "status")
	var given multi
	var fleetAll bool
	fs.Var(&given, "site", "show only the site `NAME` (repeatable); the first line then says whether a site named is in maintenance")
	fs.BoolVar(&fleetAll, "fleet", false, "also list what the fleet's Redis holds for each site")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	names, err := siteNames(cfg, "status", given, cfg.SiteNames())
	if err != nil {
		return err
	}
	now := time.Now().Truncate(time.Second)
	all := control.Read(cfg)
	headline := all[config.DefaultSite].Active(now)
	if len(given) > 0 {
		headline = false
		for _, n := range names {
			headline = headline || all.InMaintenance(n, now)
		}
	}
	if headline {
		fmt.Fprintln(e.stdout, "Maintenance Mode: ACTIVE")
	} else {
		fmt.Fprintln(e.stdout, "Maintenance Mode: INACTIVE")
	}
	states := readStates(cfg)
	printProcesses(e, cfg, all, states, now)
	printLastChange(e, cfg, now)
	printFleet(ctx, e, cfg, fleetAll)
	for _, n := range names {
		printSite(e, cfg, all, n, states, now)
	}
	return nil
}

// printSite prints one site's switch: its state, flag file and metadata,
// and what the state map says for it.
func printSite(e *env, cfg *config.Config, all control.Switches, name string, states map[string]flagfile.State, now time.Time) {
	s := all[name]
	st := s.State(now)
	down := all.InMaintenance(name, now)
	if !s.Active(now) && down {
		st += " (in maintenance: the server-wide switch is on)"
	}
	fmt.Fprintf(e.stdout, "site %s: %s\n", name, st)
	switch {
	case s.Err != nil:
		fmt.Fprintf(e.stdout, "  flag:    %s (present but unreadable: treated as active with no metadata)\n", s.FlagFile)
	case s.State(now) == control.Scheduled:
		fmt.Fprintf(e.stdout, "  flag:    %s (present; window not open yet)\n", s.FlagFile)
	case s.State(now) == control.Ended:
		fmt.Fprintf(e.stdout, "  flag:    %s (present; window has ended: run maintgate off%s to remove it)\n", s.FlagFile, control.SiteFlag(name))
	case s.Present:
		fmt.Fprintf(e.stdout, "  flag:    %s\n", s.FlagFile)
	default:
		fmt.Fprintf(e.stdout, "  flag:    %s (absent)\n", s.FlagFile)
	}
	if s.Present {
		printFlag(e, s.Flag, now)
	}
	if states == nil {
		return // the state map is missing: said once, below
	}
	want := flagfile.Off
	if down {
		want = flagfile.On
	}
	switch got := states[name]; {
	case got == "":
		fmt.Fprintf(e.stdout, "  warning: state map %s has no line for %s; maintgate map writes it within 0.1s if it runs, or run maintgate %s%s\n", cfg.StateMap, name, want, control.SiteFlag(name))
	case got != want:
		fmt.Fprintf(e.stdout, "  warning: state map %s says %s but maintenance is %s; maintgate map corrects it within 0.1s if it runs, or run maintgate %s%s\n", cfg.StateMap, got, want, want, control.SiteFlag(name))
	default:
		fmt.Fprintf(e.stdout, "  state:   %s says %s\n", cfg.StateMap, got)
	}
}

// printProcesses warns about a missing state map and says whether a map
// process runs: both concern every site of the server.
func printProcesses(e *env, cfg *config.Config, all control.Switches, states map[string]flagfile.State, now time.Time) {
	down := false
	for n := range all {
		down = down || all.InMaintenance(n, now)
	}
	if cfg.StateMap != "" && states == nil {
		want := flagfile.Off
		if all[config.DefaultSite].Active(now) {
			want = flagfile.On
		}
		fmt.Fprintf(e.stdout, "  warning: state map %s is missing or unreadable: Apache refuses to start without it, and a running Apache asks maintgate for every request; run maintgate %s to write it\n", cfg.StateMap, want)
	}
	maps := mapProcesses(e.proc)
	if len(maps) > 0 {
		pids := make([]string, len(maps))
		for i, m := range maps {
			pids[i] = strconv.Itoa(m.pid)
		}
		fmt.Fprintf(e.stdout, "  map:     running (pid %s)\n", strings.Join(pids, " "))
	} else if down {
		fmt.Fprintf(e.stdout, "  warning: %s\n", noMapWarning(""))
	}
	printLog(e, cfg, maps)
}

// readStates is what the state map says for each site; nil when there is
// no state map to read.
func readStates(cfg *config.Config) map[string]flagfile.State {
	if cfg.StateMap == "" {
		return nil
	}
	return flagfile.ReadStates(cfg.StateMap)
}

func printFlag(e *env, f flagfile.Flag, now time.Time) {
	if f.Message != "" {
		fmt.Fprintf(e.stdout, "  message: %s\n", f.Message)
	}
	if !f.Start.IsZero() {
		fmt.Fprintf(e.stdout, "  start:   %s (%s)\n", f.Start.Local().Format(time.RFC3339), control.Rel(f.Start, now))
	}
	if !f.Until.IsZero() {
		fmt.Fprintf(e.stdout, "  until:   %s (%s)\n", f.Until.Local().Format(time.RFC3339), control.Rel(f.Until, now))
	}
	for _, a := range f.Allow {
		fmt.Fprintf(e.stdout, "  allow:   %s (this window only)\n", a)
	}
	for _, p := range f.AllowPaths {
		fmt.Fprintf(e.stdout, "  path:    %s (open for this window only)\n", p)
	}
	if !f.SetAt.IsZero() {
		by := ""
		if f.SetBy != "" {
			by = " by " + f.SetBy
		}
		fmt.Fprintf(e.stdout, "  set:     %s%s\n", f.SetAt.Local().Format(time.RFC3339), by)
	}
}

// mapProc is a running `maintgate map` process.
type mapProc struct {
	pid    int
	config string // the -config it was started with, absolute; "" when none
}

// mapProcesses lists the running `maintgate map` processes, read from the
// proc directory (/proc, or env.proc in tests): Apache does not restart a
// map that died, and nothing else would tell the operator. status and
// check both ask it.
func mapProcesses(proc string) []mapProc {
	if proc == "" {
		proc = "/proc"
	}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	var maps []mapProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if len(args) < 2 || filepath.Base(args[0]) != "maintgate" {
			continue
		}
		// Apache's RewriteMap line may put -config before map, too.
		cfg, rest, err := leadingConfig(args[1:])
		if err != nil || len(rest) == 0 || rest[0] != "map" {
			continue
		}
		fs := flag.NewFlagSet("map", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		after := fs.String("config", "", "")
		if fs.Parse(rest[1:]) == nil && *after != "" {
			cfg = *after
		}
		if cfg != "" && !filepath.IsAbs(cfg) {
			cwd, _ := os.Readlink(filepath.Join(proc, e.Name(), "cwd"))
			cfg = filepath.Join(cwd, cfg)
		}
		maps = append(maps, mapProc{pid: pid, config: cfg})
	}
	return maps
}

// printLog says whether the map writes to log.file: one that cannot open
// it writes to stderr (Apache's error log) and tries again at every tick.
// The open files of a map of this config answer that, when this user may
// read them (root, or the map's user); else status tries the file itself.
func printLog(e *env, cfg *config.Config, maps []mapProc) {
	file := cfg.Log.File
	if file == "" {
		return
	}
	for _, m := range maps {
		if m.config != cfg.Path {
			continue
		}
		switch open, known := hasOpen(e.proc, m.pid, file); {
		case known && open:
			fmt.Fprintf(e.stdout, "  log:     %s\n", file)
			return
		case known:
			fmt.Fprintf(e.stdout, "  warning: maintgate map (pid %d) has not opened log.file %s: it logs to stderr (Apache's error log) and tries again every %s; check that the directory exists and Apache's user may write there\n", m.pid, file, gate.PollInterval)
			return
		}
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// The map creates it, given a directory it may write to.
		err = syscall.Access(filepath.Dir(file), 2 /* W_OK */)
	}
	if err != nil {
		fmt.Fprintf(e.stdout, "  warning: log.file %s cannot be opened (%v): maintgate map logs to stderr (Apache's error log) until it can, and tries again every %s\n", file, err, gate.PollInterval)
		return
	}
	if f != nil {
		f.Close()
	}
	fmt.Fprintf(e.stdout, "  log:     %s\n", file)
}

// hasOpen says whether process pid has file open; known is false when its
// open files cannot be read.
func hasOpen(proc string, pid int, file string) (open, known bool) {
	if proc == "" {
		proc = "/proc"
	}
	dir := filepath.Join(proc, strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false, false
	}
	for _, fd := range fds {
		if t, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && t == file {
			return true, true
		}
	}
	return false, true
}

// noMapWarning says that no map process runs and what Apache then does;
// also is what it means for the request at hand ("" for none).
func noMapWarning(also string) string {
	return "no maintgate map process is running on this host: if Apache runs here, every gated request of a site in maintenance is redirected, admins included" +
		also + "; a graceful restart (" + reloadApache() + ") starts it again"
}

// reloadApache is the command that restarts Apache gracefully here:
// systemctl where systemd runs, apachectl elsewhere (containers).
func reloadApache() string {
	if st, err := os.Stat("/run/systemd/system"); err == nil && st.IsDir() {
		return "systemctl reload apache2"
	}
	return "apachectl graceful"
}

// printLastChange prints the latest line of the audit log: who changed
// what, through what, and when.
func printLastChange(e *env, cfg *config.Config, now time.Time) {
	if !control.Audited(cfg) {
		return
	}
	last, err := audit.Latest(cfg.Panel.AuditLog, 1)
	if err != nil {
		fmt.Fprintf(e.stdout, "  warning: %v\n", err)
		return
	}
	if len(last) == 0 {
		return
	}
	a := last[0]
	if t := a.Time.Truncate(time.Second); t.After(now) {
		now = t // `now` is truncated to the second, the log's time is not
	}
	site := ""
	if a.Site != "" && a.Site != config.DefaultSite {
		site = " --site " + a.Site
	}
	fmt.Fprintf(e.stdout, "  last:    %s%s by %s via %s, %s (%s)\n", a.Action, site, a.Who, a.Via,
		a.Time.Local().Format(time.RFC3339), control.Rel(a.Time, now))
}
