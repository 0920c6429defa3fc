package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

// TestLogFileRetried: a log.file that cannot be opened at start (its
// directory does not exist yet) is no failure: lines go to stderr, which
// says why, and the file is tried again at every watcher tick, so the
// lines go there once it can be opened (issue 11). Before, NewLogger
// failed, the map logged to stderr for good, and only a graceful restart
// of Apache brought the file back.
func TestLogFileRetried(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "log", "maintgate.log")
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	for _, async := range []bool{false, true} {
		lg, err := NewLogger(LogOptions{File: file, Level: "info", Async: async, Stderr: stderr})
		if err != nil {
			t.Fatalf("async %v: NewLogger: %v", async, err)
		}
		lg.Info().Msg("before the directory")
		lg.sink.checkRotated() // a tick: still no directory
		lg.Info().Msg("still before")
		// The async writer hands lines on within asyncDelay; lines it
		// still holds when the file opens go to the file.
		for i := 0; async && i < 100 && !strings.Contains(readFile(stderr.Name()), "still before"); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		lg.sink.checkRotated() // the next tick opens it
		lg.Info().Msg("after the directory")
		lg.Close()
		b := readFile(stderr.Name())
		for _, want := range []string{`"message":"cannot open log.file; logging to stderr until it opens`, "no such file or directory", `"message":"before the directory"`, `"message":"still before"`} {
			if !strings.Contains(b, want) {
				t.Errorf("async %v: stderr has no %s:\n%s", async, want, b)
			}
		}
		if strings.Contains(b, "after the directory") {
			t.Errorf("async %v: a line after the file opened went to stderr", async)
		}
		b = readFile(file)
		if !strings.Contains(b, `"message":"after the directory"`) || strings.Contains(b, "before") {
			t.Errorf("async %v: log file:\n%s", async, b)
		}
		os.RemoveAll(filepath.Dir(file))
		stderr.Truncate(0)
	}
}

// TestConsoleColourOnlyOnATerminal: format = "console" colours its lines
// only when they go to a terminal; Apache's error log (the map's stderr)
// is a file or a pipe, and ANSI escapes there are noise (issue 11: the
// demo's error.log was full of them). Before, stderr was always coloured.
func TestConsoleColourOnlyOnATerminal(t *testing.T) {
	dir := t.TempDir()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	lg, _ := NewLogger(LogOptions{Level: "info", Format: "console", Stderr: stderr})
	lg.Info().Str("ip", "203.0.113.7").Msg("redirecting to maintenance page")
	lg.Close()
	b, _ := os.ReadFile(stderr.Name())
	if !strings.Contains(string(b), "INF redirecting to maintenance page") || !strings.Contains(string(b), "ip=203.0.113.7") || strings.Contains(string(b), "\x1b[") {
		t.Errorf("console line to a file: %q", b)
	}
}
