package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mapConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "maintgate.toml")
	if err := os.WriteFile(cfg, []byte("flag_file = \"maintenance\"\nstate_map = \"state.map\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMapReturnsWhenItsContextEnds: runMap returns, and run gives main
// exit status 0, when its context ends while the loop is still waiting
// for input: main, not the signal handler, is where the process exits.
// Before, the context was ignored and only an os.Exit in the signal
// goroutine ended the map.
func TestMapReturnsWhenItsContextEnds(t *testing.T) {
	stdin, keys := io.Pipe()
	defer keys.Close()
	answers, stdout := io.Pipe()
	defer answers.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := &env{stdin: stdin, stdout: stdout, stderr: io.Discard, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, e, []string{"map", "-config", mapConfig(t)}) }()

	// One answer first: the loop runs and waits for the next line.
	go io.WriteString(keys, "203.0.113.7 /de/map/  \n")
	if ans, err := bufio.NewReader(answers).ReadString('\n'); ans != "allow\n" || err != nil {
		t.Fatalf("first answer %q, %v", ans, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("map did not return within 5s after its context ended")
	}
}

// TestMapStopsOnSIGTERM: Apache stops the map with SIGTERM while the pipe
// is still open; the process logs why, and exits 0.
func TestMapStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(binary(t), "map", "-config", mapConfig(t))
	keys, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	answers, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(keys, "203.0.113.7 /de/map/  \n")
	if ans, err := bufio.NewReader(answers).ReadString('\n'); ans != "allow\n" || err != nil {
		t.Fatalf("first answer %q, %v", ans, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("map after SIGTERM: %v, want exit status 0\n%s", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("map still running 5s after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"cause":"terminated signal received","time":`) {
		t.Errorf("no stop line in the log:\n%s", stderr.String())
	}
}

// TestStatusSaysLogFileNotOpen: a map whose log.file cannot be opened at
// start (its directory is missing) logs to stderr, tries the file again
// at every tick, and opens it once it can; status says which, from the
// map's own open files (issue 11). Before, the map never tried again and
// status said nothing of the log.
func TestStatusSaysLogFileNotOpen(t *testing.T) {
	cfg := mapConfig(t)
	dir := filepath.Dir(cfg)
	logFile := filepath.Join(dir, "log", "maintgate.log")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(f, "[log]\nfile = \"log/maintgate.log\"\n")
	f.Close()
	status := func() string {
		code, out, errs := runIn("", "status", "-config", cfg)
		if code != 0 {
			t.Fatalf("status: exit %d: %s", code, errs)
		}
		return out
	}
	// No map of this config runs: status tries the file itself.
	if out := status(); !strings.Contains(out, "  warning: log.file "+logFile+" cannot be opened (no such file or directory): maintgate map logs to stderr (Apache's error log) until it can, and tries again every 100ms\n") {
		t.Errorf("status without a map:\n%s", out)
	}
	cmd := exec.Command(binary(t), "map", "-config", cfg)
	keys, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	answers, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { keys.Close(); cmd.Wait() }()
	// One answer: the map has started and opened (or not) its log.
	io.WriteString(keys, "203.0.113.7 /de/map/  \n")
	if ans, err := bufio.NewReader(answers).ReadString('\n'); ans != "allow\n" || err != nil {
		t.Fatalf("first answer %q, %v", ans, err)
	}
	want := fmt.Sprintf("  warning: maintgate map (pid %d) has not opened log.file %s: it logs to stderr (Apache's error log) and tries again every 100ms", cmd.Process.Pid, logFile)
	if out := status(); !strings.Contains(out, want) {
		t.Errorf("status before the directory exists: no %q in\n%s", want, out)
	}
	if err := os.Mkdir(filepath.Dir(logFile), 0o755); err != nil {
		t.Fatal(err)
	}
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out = status(); strings.Contains(out, "  log:     "+logFile+"\n") {
			break
		}
	}
	if !strings.Contains(out, "  log:     "+logFile+"\n") || strings.Contains(out, "has not opened") {
		t.Errorf("status 5s after the directory was made:\n%s\nmap's stderr:\n%s", out, stderr.String())
	}
	keys.Close()
	cmd.Wait()
	if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), `"message":"map stopped: end of input"`) {
		t.Errorf("log file after the map stopped:\n%s", b)
	}
}
