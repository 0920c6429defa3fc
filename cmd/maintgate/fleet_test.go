package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/fleet"
)

// TestMapAnswersWhileRedisHangs: the fleet's Redis accepts connections
// and answers nothing. The map answers every line at once from its local
// flag file, before and after its mirror notices the outage (its link
// file says so: the map logs to stderr, not e's), and keeps that file;
// it stops promptly.
func TestMapAnswersWhileRedisHangs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // accepted, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "maintgate.toml")
	text := "flag_file = \"maintenance\"\nstate_map = \"state.map\"\n[fleet]\nredis = \"redis://:pw@" + l.Addr().String() + "/0\"\nresync = \"20s\"\n"
	flag := []byte("message = \"local\"\n")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "maintenance"), flag, 0o644); err != nil {
		t.Fatal(err)
	}
	stdin, keys := io.Pipe()
	defer keys.Close()
	out, stdout := io.Pipe()
	defer out.Close()
	answers := bufio.NewReader(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := &env{stdin: stdin, stdout: stdout, stderr: io.Discard, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, e, []string{"map", "-config", cfg}) }()

	ask := func(when string) {
		t.Helper()
		start := time.Now()
		go io.WriteString(keys, "203.0.113.7 /de/map/  \n")
		ans, err := answers.ReadString('\n')
		if err != nil || !strings.HasPrefix(ans, "redirect") {
			t.Fatalf("%s: answer %q, %v, want redirect (the local flag is on)", when, ans, err)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("%s: answered after %s", when, d)
		}
	}
	ask("at start")
	noAnswer := func() bool {
		l, err := fleet.ReadLink(filepath.Join(dir, "state.map.fleet"))
		return err == nil && !l.Connected && strings.Contains(l.LastError, "Redis does not answer")
	}
	for end := time.Now().Add(8 * time.Second); !noAnswer(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the link file does not say \"Redis does not answer\" within 8s")
		}
		ask("while the mirror waits on Redis")
	}
	ask("after the outage is logged")
	if b, err := os.ReadFile(filepath.Join(dir, "maintenance")); err != nil || !bytes.Equal(b, flag) {
		t.Errorf("the local flag file: %q, %v; want it kept", b, err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the map did not stop within 5s")
	}
}
