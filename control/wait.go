package control

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// wait.go: a change returns once the running map has applied it, so that
// the operator's next request is decided by it (the map's inotify watch
// applies a change within about a millisecond, but a request can reach
// the map sooner than that).

// AckTimeout bounds the wait: a map that is stuck or cannot write its
// acknowledgement must not hang the operator's command.
const AckTimeout = 2 * time.Second

// ackPoll is how often the acknowledgement is read while waiting.
const ackPoll = 500 * time.Microsecond

// waitApplied waits until the map that keeps cfg's state map has applied
// the flag file of every site in names as it is now. It waits only when
// that map runs: its acknowledgement names its pid, and a missing file,
// or a pid that is no `maintgate map`, means nobody to wait for. After
// AckTimeout it gives up and returns a warning; the flags are written
// either way.
func waitApplied(cfg *config.Config, names []string) string {
	path := flagfile.AckPath(cfg.StateMap)
	if path == "" {
		return ""
	}
	deadline := time.Now().Add(AckTimeout)
	for {
		a, err := flagfile.ReadAck(path)
		if err != nil || !IsMapProcess(a.PID) || applied(cfg, a, names) {
			return ""
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("maintgate map (pid %d) has not applied the change after %s: until it does, requests may still be decided by the old flag (it looks again every %s; maintgate status shows it)", a.PID, AckTimeout, "0.1s")
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

// IsMapProcess reports whether pid is a running `maintgate map`, from
// /proc (flags may come before the subcommand: -config X map).
func IsMapProcess(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "maintgate" && slices.Contains(args[1:], "map")
}
