// Package regfile reads the small files an operator names (the flag file,
// the state map, the config, the whitelist file, the token key, the Django
// secret file) so that no file type can stall or bloat the reader.
//
// os.ReadFile trusts the path: a FIFO there blocks open(2) until a writer
// comes, forever (the map's watcher stops, Close waits on it, SIGTERM no
// longer ends the map); /dev/zero there is read until memory runs out. Read
// opens with O_NONBLOCK, which never waits (open of a FIFO without a writer
// returns at once), checks with fstat that what it opened is a regular file,
// and reads at most a bound the caller chooses.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular matches (errors.Is) the error for a path that names
// anything but a regular file, or a symlink to one.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge matches (errors.Is) the error for a file longer than the limit.
var ErrTooLarge = errors.New("file too large")

// NotRegularError says what the path names instead of a regular file.
type NotRegularError struct {
	Type string // "directory", "named pipe (FIFO)", "socket", "character device", …
}

func (e *NotRegularError) Error() string { return "is a " + e.Type + ", not a regular file" }

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// TooLargeError says that a file holds more than Limit bytes.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string { return fmt.Sprintf("longer than %s", size(e.Limit)) }

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Read returns the contents of the regular file at path (symlinks
// followed), at most limit bytes. It never blocks on the file's type: a
// FIFO, socket, device or directory is an error matching ErrNotRegular,
// whose text names the type; a file longer than limit is an error matching
// ErrTooLarge, and nothing past limit+1 bytes is read. Errors are
// *fs.PathError and name path.
func Read(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Limit: limit}}
	}
	return data, nil
}

// Open opens the regular file at path for reading, with Read's guarantees
// on the file's type. The caller bounds what it reads.
func Open(path string) (*os.File, error) {
	// Refuse by stat first, so that a device is not even opened (opening
	// one can have effects of its own, such as a tape rewinding).
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, notRegular(path, fi.Mode())
	}
	// O_NONBLOCK: a FIFO put in the file's place since the stat must not
	// block the open. It changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			// A socket put in the file's place since the stat.
			if fi, serr := os.Stat(path); serr == nil && !fi.Mode().IsRegular() {
				return nil, notRegular(path, fi.Mode())
			}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, notRegular(path, fi.Mode())
	}
	return f, nil
}

func notRegular(path string, m fs.FileMode) error {
	return &fs.PathError{Op: "open", Path: path, Err: &NotRegularError{Type: typeName(m)}}
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
