package gate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// logSink is the file (or stderr) that log lines end up in. It reopens the
// file when logrotate moves it away, and it never returns an error to the
// logger: a full disk or a deleted file must not cost an answer.
type logSink struct {
	mu   sync.Mutex
	path string
	f    *os.File
	ino  uint64
}

func openSink(path string) (*logSink, error) {
	s := &logSink{path: path}
	if path == "" {
		s.f = os.Stderr
		return s, nil
	}
	if err := s.reopen(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *logSink) reopen() error {
	// O_NONBLOCK: a FIFO without a reader at the path fails the open
	// (ENXIO) instead of blocking the map's start or its watcher forever.
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o640)
	if err != nil {
		return fmt.Errorf("log file %s: %w", s.path, err)
	}
	var ino uint64
	if fi, err := f.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
	}
	s.mu.Lock()
	old := s.f
	s.f, s.ino = f, ino
	s.mu.Unlock()
	if old != nil && old != os.Stderr {
		old.Close()
	}
	return nil
}

// checkRotated reopens the file when its path no longer names the file we
// write to (moved by logrotate, or deleted).
func (s *logSink) checkRotated() {
	if s.path == "" {
		return
	}
	fi, err := os.Stat(s.path)
	if err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino == s.ino {
			return
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return
	}
	s.reopen() // on failure keep writing to the old file
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.f.Write(p) // an error is dropped: see the type's comment
	s.mu.Unlock()
	return len(p), nil
}

func (s *logSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil && s.f != os.Stderr {
		return s.f.Close()
	}
	return nil
}

// Logger is a zerolog logger with the writer behind it, so it can be closed
// (flushed) on exit and reopened on rotation.
type Logger struct {
	zerolog.Logger
	sink   *logSink
	closer io.Closer
}

// LogOptions say where and how to log.
type LogOptions struct {
	File   string
	Level  string
	Format string
	// Async puts a batching buffer between the logger and the file, so a
	// flood of redirect lines never waits on the disk; used by `map`.
	Async bool
}

// NewLogger opens the log destination.
func NewLogger(o LogOptions) (*Logger, error) {
	lvl, err := zerolog.ParseLevel(o.Level)
	if err != nil || o.Level == "" {
		lvl = zerolog.InfoLevel
	}
	sink, err := openSink(o.File)
	if err != nil {
		return nil, err
	}
	var w io.Writer = sink
	l := &Logger{sink: sink, closer: sink}
	if o.Async {
		aw := newAsyncWriter(sink)
		w = aw
		l.closer = closeBoth{aw, sink}
	}
	if o.Format == "console" {
		// Above the async writer: it formats one event per Write, and the
		// async writer hands on many lines at once.
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: o.File != ""}
	}
	l.Logger = zerolog.New(w).Level(lvl).With().Timestamp().Str("component", "maintgate").Logger()
	return l, nil
}

type closeBoth struct {
	a io.Closer
	b io.Closer
}

func (c closeBoth) Close() error {
	c.a.Close()
	return c.b.Close()
}

// asyncWriter takes log lines off the answer path: Write only copies the
// line into a buffer, and a goroutine writes what has gathered, with one
// write(2) per batch, at most every asyncDelay. Idle, it sleeps without
// waking. Past asyncMax pending bytes (a disk that stalls) lines are dropped
// and counted, never waited for.
type asyncWriter struct {
	mu      sync.Mutex
	buf     []byte
	dropped int
	closed  bool
	wake    chan struct{} // capacity 1: "there is something to write"
	done    chan struct{}
	w       io.Writer
}

const (
	asyncMax   = 1 << 20
	asyncDelay = 2 * time.Millisecond
)

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || len(a.buf)+len(p) > asyncMax {
		a.dropped++
		return len(p), nil
	}
	a.buf = append(a.buf, p...)
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (a *asyncWriter) run() {
	defer close(a.done)
	var out []byte
	for range a.wake {
		// Let a burst gather: one write for many lines.
		time.Sleep(asyncDelay)
		out = a.flush(out)
	}
	a.flush(out)
}

func (a *asyncWriter) flush(out []byte) []byte {
	a.mu.Lock()
	out, a.buf = a.buf, out[:0]
	dropped := a.dropped
	a.dropped = 0
	a.mu.Unlock()
	if len(out) > 0 {
		a.w.Write(out)
	}
	if dropped > 0 {
		fmt.Fprintf(a.w, "{\"level\":\"warn\",\"message\":\"log buffer full: %d lines dropped\"}\n", dropped)
	}
	return out
}

// Close writes what is pending and stops the goroutine.
func (a *asyncWriter) Close() error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.wake)
	}
	a.mu.Unlock()
	<-a.done
	return nil
}

// Close flushes buffered lines and closes the file.
func (l *Logger) Close() error {
	if l == nil || l.closer == nil {
		return nil
	}
	return l.closer.Close()
}
