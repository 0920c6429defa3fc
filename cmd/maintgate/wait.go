package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// wait.go: on and off return once the running map has applied what they
// wrote, so that the operator's next request is decided by it (the map's
// inotify watch applies a change within about a millisecond, but a
// request can reach the map sooner than that).

// ackTimeout bounds the wait: a map that is stuck or cannot write its
// acknowledgement must not hang the operator's command.
const ackTimeout = 2 * time.Second

// ackPoll is how often the acknowledgement is read while waiting: the
// map writes it within a millisecond or so of the change.
const ackPoll = 500 * time.Microsecond

// waitApplied waits until the map that keeps cfg's state map has applied
// the flag file of every site in names as it is now. It waits only when
// that map runs: its acknowledgement names its pid, and a missing file,
// or a pid that is no `maintgate map`, means nobody to wait for. After
// ackTimeout it gives up with a warning; the flags are written either
// way.
func waitApplied(e *env, cfg *config.Config, names []string) {
	path := flagfile.AckPath(cfg.StateMap)
	if path == "" {
		return
	}
	deadline := time.Now().Add(ackTimeout)
	for {
		a, err := flagfile.ReadAck(path)
		if err != nil || !isMapProcess(a.PID) || applied(cfg, a, names) {
			return
		}
		if time.Now().After(deadline) {
			warnf(e, "maintgate map (pid %d) has not applied the change after %s: until it does, requests may still be decided by the old flag (it looks again every %s; maintgate status shows it)", a.PID, ackTimeout, "0.1s")
			return
		}
		time.Sleep(ackPoll)
	}
}

// applied: the acknowledgement names, for every site in names, the
// version its flag file has now.
func applied(cfg *config.Config, a flagfile.Ack, names []string) bool {
	for _, n := range names {
		p, err := cfg.FlagFileOf(n)
		if err != nil {
			continue
		}
		if a.Sites[n] != flagfile.StatVersion(p).String() {
			return false
		}
	}
	return true
}

// isMapProcess reports whether pid is a running `maintgate map`, from
// /proc (flags may come before the subcommand: -config X map).
func isMapProcess(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "maintgate" && slices.Contains(args[1:], "map")
}
