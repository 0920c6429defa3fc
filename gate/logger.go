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
// logger: a full disk or a deleted file must not cost an answer. A file
// that cannot be opened (its directory missing, no permission) is not an
// error either: lines go to stderr (Apache's error log) meanwhile, and
// checkRotated, at every watcher tick, tries the file again.
type logSink struct {
	mu   sync.Mutex
	path string
	std  *os.File // stderr
	f    *os.File // the file, or std while there is none
	ino  uint64
}

// openSink returns a sink writing to path, or to std when path is "" or
// cannot be opened; then the error says why.
func openSink(path string, std *os.File) (*logSink, error) {
	s := &logSink{path: path, std: std, f: std}
	if path == "" {
		return s, nil
	}
	return s, s.reopen()
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
	if old != s.std {
		old.Close()
	}
	return nil
}

// checkRotated reopens the file when its path no longer names the file we
// write to (moved by logrotate, or deleted), and tries again to open a
// file that could not be opened.
func (s *logSink) checkRotated() {
	if s.path == "" {
		return
	}
	s.mu.Lock()
	opened, ino := s.f != s.std, s.ino
	s.mu.Unlock()
	if opened {
		fi, err := os.Stat(s.path)
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino == ino {
				return
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return
		}
	}
	s.reopen() // on failure keep writing where we write
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
	if s.f != s.std {
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
	// Stderr is where lines go without a file; nil is os.Stderr (tests
	// set it).
	Stderr *os.File
}

// NewLogger opens the log destination. A File that cannot be opened is
// no failure: an answer matters more than its log line, and Apache does
// not restart a map that exits. The logger then writes to stderr, says so
// there, and the watcher tries the file again at every tick (PollInterval)
// until it opens; the error result is kept for the callers' sake and is
// always nil.
func NewLogger(o LogOptions) (*Logger, error) {
	lvl, err := zerolog.ParseLevel(o.Level)
	if err != nil || o.Level == "" {
		lvl = zerolog.InfoLevel
	}
	std := o.Stderr
	if std == nil {
		std = os.Stderr
	}
	sink, openErr := openSink(o.File, std)
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
		// Colour only on a terminal: stderr is Apache's error log when
		// Apache starts the map, and a file is never one.
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: o.File != "" || !isTerminal(std)}
	}
	l.Logger = zerolog.New(w).Level(lvl).With().Timestamp().Str("component", "maintgate").Logger()
	if openErr != nil {
		l.Error().Err(openErr).Stringer("retry_every", PollInterval).
			Msg("cannot open log.file; logging to stderr until it opens, tried again at every watcher tick (maintgate status says whether the map has it open)")
	}
	return l, nil
}

// isTerminal says whether f is a terminal: a character device. It errs
// towards colour only for the null device, where it does no harm, and it
// needs no ioctl, so it is the same on every Unix.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
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
