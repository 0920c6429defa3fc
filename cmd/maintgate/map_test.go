package main

import (
	"bufio"
	"bytes"
	"context"
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
