package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/flagfile"
)

// liveMap is a `maintgate map` process of its own config, asked line by
// line the way Apache asks it.
type liveMap struct {
	t       *testing.T
	cfg     string
	keys    io.WriteCloser
	answers *bufio.Reader
}

// startMap writes a config (flag, state map, two sites) into a new
// directory, runs a map on it and waits for its first acknowledgement.
func startMap(t *testing.T) *liveMap {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "maintgate.toml")
	text := "flag_file = \"maintenance\"\nstate_map = \"state.map\"\n[sites.shop]\n[sites.blog]\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "map", "-config", cfg)
	keys, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys.Close()
		cmd.Wait()
		if t.Failed() {
			t.Logf("map log:\n%s", logs.String())
		}
	})
	m := &liveMap{t: t, cfg: cfg, keys: keys, answers: bufio.NewReader(out)}
	ack := filepath.Join(dir, "state.map.ack")
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if a, err := flagfile.ReadAck(ack); err == nil && a.PID == cmd.Process.Pid {
			return m
		}
		if time.Now().After(end) {
			t.Fatalf("no acknowledgement from the map after 5s")
		}
	}
}

// mg runs a maintgate command in process on the map's config and returns
// its stderr; it fails the test unless the command exits 0.
func (m *liveMap) mg(args ...string) string {
	m.t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := run(context.Background(), e, append(args, "-config", m.cfg)); code != 0 {
		m.t.Fatalf("maintgate %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stderr.String()
}

// ask sends one key line and returns the answer.
func (m *liveMap) ask(line string) string {
	m.t.Helper()
	if _, err := io.WriteString(m.keys, line+"\n"); err != nil {
		m.t.Fatal(err)
	}
	ans, err := m.answers.ReadString('\n')
	if err != nil {
		m.t.Fatal(err)
	}
	return strings.TrimSuffix(ans, "\n")
}

// TestNextLineAfterOnOff: the key line sent right after `on` or `off`
// returns is decided by the flag it wrote, for every kind of change
// while maintenance is on (narrower --allow, narrower --allow-path,
// --clear, off, a site's own switch), 20 times each with no pause.
// Before, the map saw a change of a flag that was already on only at
// its next tick (up to 100 ms): most of these lines got the old answer.
func TestNextLineAfterOnOff(t *testing.T) {
	m := startMap(t)
	const (
		friend   = "198.51.100.9 /de/map/  "
		stranger = "203.0.113.7 "
	)
	steps := []struct {
		name string
		args []string
		line string
		want string
	}{
		{"on --allow", []string{"on", "--allow", "198.51.100.9"}, friend, "allow"},
		{"on --clear", []string{"on", "--clear"}, friend, "redirect"},
		{"on --allow-path /docs/", []string{"on", "--allow-path", "/docs/"}, stranger + "/docs/a/  ", "allow"},
		{"narrower --allow-path", []string{"on", "--allow-path", "/docs/b/"}, stranger + "/docs/a/  ", "redirect"},
		{"wider --allow", []string{"on", "--allow", "198.51.100.0/24"}, friend, "allow"},
		{"narrower --allow", []string{"on", "--allow", "198.51.100.10"}, friend, "redirect"},
		{"off", []string{"off"}, friend, "allow"},
		{"on --site shop --allow", []string{"on", "--site", "shop", "--allow", "198.51.100.9"}, friend + " shop", "allow"},
		{"stranger on shop", nil, stranger + "/de/map/   shop", "redirect"},
		{"on --site shop --clear", []string{"on", "--site", "shop", "--clear"}, friend + " shop", "redirect"},
		{"off --site shop", []string{"off", "--site", "shop"}, friend + " shop", "allow"},
	}
	var stale []string
	for i := 0; i < 20; i++ {
		for _, s := range steps {
			if s.args != nil {
				m.mg(s.args...)
			}
			if got := m.ask(s.line); got != s.want {
				stale = append(stale, s.name+" (round "+strconv.Itoa(i)+"): "+got)
			}
		}
	}
	if len(stale) > 0 {
		t.Errorf("%d of %d lines right after the command got the old answer, e.g. %q", len(stale), 20*len(steps), stale[:min(len(stale), 5)])
	}
}

// TestOnWaitsOnlyForItsMap: an acknowledgement naming a process that is
// no map (here: this test) is nobody to wait for; one naming a live map
// that never applies this config's flags makes `on` give up after
// control.AckTimeout, with a warning that says what that means.
func TestOnWaitsOnlyForItsMap(t *testing.T) {
	other := startMap(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "maintgate.toml")
	if err := os.WriteFile(cfg, []byte("flag_file = \"maintenance\"\nstate_map = \"state.map\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &liveMap{t: t, cfg: cfg}
	ack := filepath.Join(dir, "state.map.ack")
	write := func(pid int) {
		if err := flagfile.WriteAck(ack, pid, []flagfile.SiteVersion{{Name: "default", Version: flagfile.Version{Err: true}}}); err != nil {
			t.Fatal(err)
		}
	}
	write(os.Getpid())
	start := time.Now()
	if out := m.mg("on"); out != "" || time.Since(start) > control.AckTimeout/2 {
		t.Errorf("on with no map running: %v, stderr %q", time.Since(start), out)
	}
	a, err := flagfile.ReadAck(filepath.Join(filepath.Dir(other.cfg), "state.map.ack"))
	if err != nil {
		t.Fatal(err)
	}
	write(a.PID)
	start = time.Now()
	out := m.mg("off")
	if d := time.Since(start); d < control.AckTimeout || d > control.AckTimeout+time.Second {
		t.Errorf("off waited %v for a map that never applies it, want %v", d, control.AckTimeout)
	}
	if !strings.Contains(out, "maintgate: warning: maintgate map (pid "+strconv.Itoa(a.PID)+") has not applied the change after 2s") {
		t.Errorf("no warning: %q", out)
	}
}
