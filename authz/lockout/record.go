package lockout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// FileName is the record's name in its directory; the lock is taken on
// FileName+".lock", a file that is never replaced (the record itself is
// replaced by rename, so a lock on it would lock a file already gone).
const FileName = "failures"

// lockWait is how long Begin waits for another process's lock. Holders
// keep it for a read and a write of a few kilobytes; only a stopped or
// stuck process holds it longer, and then refusing is the safe answer.
const lockWait = 2 * time.Second

// Record is the failure record in one directory, shared by every process
// that opens the same directory. New does no I/O: the directory and its
// files are made by the first attempt that needs them.
type Record struct {
	dir        string
	User, Addr Limit // PerUser and PerAddr unless changed before use
	MaxEntries int   // MaxEntries unless changed before use
}

// New returns the record kept in dir. dir must be writable by the user
// the checker runs as (Apache's User, www-data): the record is replaced by
// rename, so a writable file in a read-only directory is not enough.
func New(dir string) *Record {
	return &Record{dir: dir, User: PerUser, Addr: PerAddr, MaxEntries: MaxEntries}
}

// Dir is the directory named to New.
func (r *Record) Dir() string { return r.dir }

// update runs fn on the recent entries under the lock and writes what it
// returns. When fn fails nothing is written.
func (r *Record) update(now time.Time, fn func([]entry) ([]entry, error)) error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("failure record: %w", err)
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	es, err := r.read(now)
	if err != nil {
		return err
	}
	out, err := fn(es)
	if err != nil {
		return err
	}
	return r.write(out)
}

func (r *Record) lock() (unlock func(), err error) {
	name := filepath.Join(r.dir, FileName+".lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("failure record: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("failure record: lock %s: %w", name, err)
		}
		// Polled, not a blocking flock: a blocked flock cannot give up.
		time.Sleep(2 * time.Millisecond)
	}
}

// maxFile bounds what is read: MaxEntries lines of at most ~70 bytes, with
// room to spare. A longer file was not written by Record; its first
// maxFile bytes are read and the rest is dropped at the next write.
const maxFile = 128 * MaxEntries

// read returns the entries within the longer of the two windows (or less
// than one window ahead of now: a clock set back must not keep a user
// locked out for longer than that). Lines it cannot parse are dropped, so
// a damaged file costs the counts it held, never password sign-in itself.
func (r *Record) read(now time.Time) ([]entry, error) {
	f, err := os.Open(filepath.Join(r.dir, FileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failure record: %w", err)
	}
	defer f.Close()
	w := max(r.User.Window, r.Addr.Window)
	from, to := now.Add(-w).UnixNano(), now.Add(w).UnixNano()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return nil, fmt.Errorf("failure record: %w", err)
	}
	var es []entry
	for line := range bytes.Lines(b) {
		e, ok := parseEntry(line)
		if ok && e.at > from && e.at < to {
			es = append(es, e)
		}
	}
	return es, nil
}

// parseEntry reads one line "NANOS ADDR USER".
func parseEntry(b []byte) (entry, bool) {
	f := bytes.Fields(b)
	if len(f) != 3 {
		return entry{}, false
	}
	at, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return entry{}, false
	}
	return entry{at: at, addr: string(f[1]), user: string(f[2])}, true
}

// write replaces the record with es, atomically: a reader sees the old
// file or the new one, never half of one. There is no fsync: losing the
// last failures to a power cut costs a guesser's budget nothing worth it.
func (r *Record) write(es []entry) error {
	var buf bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&buf, "%d %s %s\n", e.at, e.addr, e.user)
	}
	tmp, err := os.CreateTemp(r.dir, "."+FileName+"-*")
	if err != nil {
		return fmt.Errorf("failure record: %w", err)
	}
	_, err = tmp.Write(buf.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(r.dir, FileName))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("failure record: %w", err)
	}
	return nil
}
