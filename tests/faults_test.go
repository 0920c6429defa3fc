package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Faults around the map: whatever happens to its files, every line still
// gets its answer, and the answer is the safe one.

func TestFaultFlagFileUnreadable(t *testing.T) {
	s := newSite(t, "")
	// A directory where the flag should be: it exists, but cannot be read
	// as a file (root reads any file, so permissions cannot model this).
	if err := os.Mkdir(s.flag, 0o755); err != nil {
		t.Fatal(err)
	}
	m := startMap(t, s)
	if got := m.ask(blocked); got != "redirect" {
		t.Errorf("unreadable flag: %q, want redirect (fail closed)", got)
	}
	if log := s.waitLog(t, "flag file unreadable"); !strings.Contains(log, `"level":"error"`) {
		t.Errorf("no ERROR for the unreadable flag:\n%s", log)
	}
	os.Remove(s.flag)
	m.until(blocked, "allow", 2*time.Second)
}

func TestFaultFlagFileReplaced(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	// Replaced by rename with different contents, many times, while asked.
	for i := 0; i < 50; i++ {
		tmp := s.flag + ".new"
		os.WriteFile(tmp, []byte("message = \"step "+strings.Repeat("x", i)+"\"\n"), 0o644)
		os.Rename(tmp, s.flag)
		if got := m.ask(blocked); got != "redirect" {
			t.Fatalf("replacement %d: %q", i, got)
		}
	}
	// Garbage contents: still maintenance (present = active).
	os.WriteFile(s.flag, []byte("\x00\xff not toml ["), 0o644)
	time.Sleep(250 * time.Millisecond)
	if got := m.ask(blocked); got != "redirect" {
		t.Errorf("garbage flag: %q", got)
	}
}

func TestFaultFlagDirectoryVanishes(t *testing.T) {
	s := newSite(t, "")
	dir := filepath.Join(s.dir, "run")
	os.Mkdir(dir, 0o755)
	flag := filepath.Join(dir, "maintenance")
	s.flag = flag
	s.writeConfig(t, "")
	s.on(t)
	m := startMap(t, s)
	if got := m.ask(blocked); got != "redirect" {
		t.Fatalf("on: %q", got)
	}
	os.RemoveAll(dir)
	m.until(blocked, "allow", 2*time.Second)
	if got := waitState(t, s, "off", time.Second); got != "off" {
		t.Errorf("state map: %q", got)
	}
	os.Mkdir(dir, 0o755)
	os.WriteFile(flag, nil, 0o644)
	m.until(blocked, "redirect", 2*time.Second)
}

func TestFaultConfigTruncatedMidWrite(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	m.ask(blocked) // the map has loaded its config
	full, _ := os.ReadFile(s.config)
	extra := append([]byte("trusted_proxies = [\"172.16.0.1\"]\n"), full...)
	// An editor writing in place: first half the file, then the rest.
	os.WriteFile(s.config, extra[:len(extra)-20], 0o644)
	time.Sleep(250 * time.Millisecond)
	for i := 0; i < 20; i++ {
		if got := m.ask("192.168.1.100 /x  "); got != "allow" {
			t.Fatalf("during a truncated config: whitelisted IP got %q", got)
		}
		if got := m.ask(blocked); got != "redirect" {
			t.Fatalf("during a truncated config: %q", got)
		}
	}
	os.WriteFile(s.config, extra, 0o644)
	m.until("172.16.0.1 /x 192.168.1.100 ", "allow", 2*time.Second)
}

func TestFaultLogDiskFull(t *testing.T) {
	s := newSite(t, "")
	s.log = "/dev/full"
	s.writeConfig(t, "")
	s.on(t)
	m := startMap(t, s)
	for i := 0; i < 2000; i++ {
		want := "redirect"
		line := blocked
		if i%2 == 1 {
			line, want = "192.168.1.100 /x  ", "allow"
		}
		if got := m.ask(line); got != want {
			t.Fatalf("line %d with the log disk full: %q", i, got)
		}
	}
}

func TestFaultLogFileDeleted(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	m.ask(blocked)
	s.waitLog(t, "redirecting")
	os.Remove(s.log)
	// The watcher notices within a tick and reopens; lines asked meanwhile
	// are answered whatever happens to their log lines.
	deadline := time.Now().Add(2 * time.Second)
	for {
		if got := m.ask(blocked); got != "redirect" {
			t.Fatalf("after the log was deleted: %q", got)
		}
		if _, err := os.Stat(s.log); err == nil && strings.Contains(s.logText(t), "redirecting") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("log file not recreated within 2s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultLogRotated: logrotate's default (rename, then a new file) is
// followed without a signal.
func TestFaultLogRotated(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	m.ask(blocked)
	s.waitLog(t, "redirecting")
	os.Rename(s.log, s.log+".1")
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(s.logText(t), "redirecting") {
		if time.Now().After(deadline) {
			t.Fatal("no new log file after rotation")
		}
		m.ask(blocked)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultConfigBrokenAtStart: Apache starts the map while the config is
// broken. Exiting would leave Apache without a helper until its next
// restart; the map answers redirect (fail closed) until the file loads.
func TestFaultConfigBrokenAtStart(t *testing.T) {
	s := newSite(t, "")
	s.off(t)
	good, _ := os.ReadFile(s.config)
	os.WriteFile(s.config, []byte("flag_file = [\n"), 0o644)
	m := startMap(t, s)
	if got := m.ask(blocked); got != "redirect" {
		t.Errorf("broken config: %q, want redirect", got)
	}
	if got := m.ask("203.0.113.7 /maintenance.html  "); got != "allow" {
		t.Errorf("broken config, maintenance page: %q, want allow", got)
	}
	deadline := time.Now().Add(time.Second)
	for !strings.Contains(m.errb.String(), "configuration unusable at start") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(m.errb.String(), "configuration unusable at start") {
		t.Errorf("no error on stderr: %s", m.errb.String())
	}
	os.WriteFile(s.config, good, 0o644)
	m.until(blocked, "allow", 2*time.Second)
}

// TestFaultWhitelistFileMissingAtStart: the config parses but names a
// whitelist file that is not there yet. The map keeps running, fails
// closed, and picks the file up when it appears.
func TestFaultWhitelistFileMissingAtStart(t *testing.T) {
	s := newSite(t, `whitelist_file = "office.txt"`)
	s.on(t)
	m := startMap(t, s)
	if got := m.ask("192.168.1.100 /x  "); got != "redirect" {
		t.Errorf("config not loadable: %q, want redirect", got)
	}
	os.WriteFile(filepath.Join(s.dir, "office.txt"), []byte("198.51.100.0/24\n"), 0o644)
	m.until("198.51.100.7 /x  ", "allow", 2*time.Second)
	if got := m.ask(blocked); got != "redirect" {
		t.Errorf("after the whitelist appeared: %q", got)
	}
}
