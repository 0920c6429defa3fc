// Package flagfile reads and writes the maintenance flag file and the small
// state map that lets Apache skip maintgate entirely while maintenance is off.
//
// The flag file's presence alone means "maintenance active": an empty file
// made with touch is valid, and so is a file whose contents cannot be read
// (fail closed). `maintgate on` writes metadata into it as TOML: a message, a
// window (start, until) and addresses whitelisted for this window only.
//
// ack.go holds the third file: the running map's acknowledgement of the
// flags it has applied, which `maintgate on` and `off` wait for.
package flagfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/internal/regfile"
)

// Flag is the metadata `maintgate on` may write. The zero Flag is what an
// empty (touched) file means: maintenance on, no message, no window.
type Flag struct {
	Message string    `toml:"message,omitempty"`
	Start   time.Time `toml:"start,omitempty"`
	Until   time.Time `toml:"until,omitempty"`
	Allow   []string  `toml:"allow,omitempty"`
	// AllowPaths are path prefixes open for this window only (`on
	// --allow-path`), segment-bounded like allow_paths.
	AllowPaths []string  `toml:"allow_paths,omitempty"`
	SetAt      time.Time `toml:"set_at,omitempty"`
	SetBy      string    `toml:"set_by,omitempty"`
}

// ActiveAt reports whether the flag's window is open at now. An unset bound
// is open; Until is exclusive, so maintenance "until 12:00" ends at 12:00.
func (f *Flag) ActiveAt(now time.Time) bool {
	if !f.Start.IsZero() && now.Before(f.Start) {
		return false
	}
	if !f.Until.IsZero() && !now.Before(f.Until) {
		return false
	}
	return true
}

const header = "# maintgate maintenance flag: while this file exists the site is in maintenance.\n# Written by `maintgate on`; remove it with `maintgate off` (or rm) to reopen.\n"

// MaxSize bounds what Read reads of a flag file: far more than any flag
// `maintgate on` writes, and little enough that a huge file (or
// /dev/zero) at the flag path costs no memory.
const MaxSize = 1 << 20

// Read reads the flag file. present is false only when the file does not
// exist. A file that exists but cannot be read or parsed still means
// maintenance is active: the error is returned beside present=true and the
// metadata that could not be read is left zero. So does anything at the
// path that is not a regular file (a FIFO, a socket, a device, a
// directory) and a file over MaxSize: the error names the path and what it
// is, and Read never blocks on it.
func Read(path string) (present bool, f Flag, err error) {
	data, err := regfile.Read(path, MaxSize)
	if errors.Is(err, fs.ErrNotExist) {
		return false, Flag{}, nil
	}
	if err != nil {
		// ENOTDIR and friends: a path component is not a directory, so
		// the file cannot exist.
		if errors.Is(err, syscall.ENOTDIR) {
			return false, Flag{}, nil
		}
		return true, Flag{}, fmt.Errorf("flag file %s: %w", path, err)
	}
	f, err = Parse(data)
	if err != nil {
		return true, Flag{}, fmt.Errorf("flag file %s: %w", path, err)
	}
	return true, f, nil
}

// Parse decodes flag file contents. Unknown keys are ignored so that an
// older maintgate can read a newer flag.
func Parse(data []byte) (Flag, error) {
	var f Flag
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	if _, err := toml.Decode(string(data), &f); err != nil {
		return Flag{}, err
	}
	return f, nil
}

// Write replaces the flag file atomically (temporary file in the same
// directory, then rename), so a reader never sees a half-written flag and
// an `on` while already on never has a moment without the file.
func Write(path string, f Flag) error {
	data, err := Encode(f)
	if err != nil {
		return fmt.Errorf("flag file %s: %w", path, err)
	}
	return WriteAtomic(path, data, 0o644)
}

// Encode is the flag file's bytes for f: what Write writes, and what the
// fleet stores for the other hosts to write.
func Encode(f Flag) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	if err := toml.NewEncoder(&b).Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Remove deletes the flag file; a flag already gone is not an error.
func Remove(path string) error {
	err := os.Remove(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("flag file %s: %w", path, err)
	}
	return nil
}

// WriteAtomic writes data to path through a temporary file and a rename,
// synced first: a reader sees the old file or the new one, whole, even
// after a crash.
func WriteAtomic(path string, data []byte, mode os.FileMode) error {
	return writeRenamed(path, data, mode, true)
}

// writeRenamed writes data into a temporary file beside path, syncs it
// when asked, and renames it over path; on any error it removes the
// temporary file and leaves path as it was.
func writeRenamed(path string, data []byte, mode os.FileMode, sync bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// State is what the txt: state map says: Apache consults the prg map only
// while it says on.
type State string

const (
	On  State = "on"
	Off State = "off"
)

// ServerWide is the name of the server-wide switch in the state map
// (config.DefaultSite; flagfile cannot import config).
const ServerWide = "default"

// SiteState is one line of the state map: a site and its state.
type SiteState struct {
	Name  string
	State State
}

// StateMapText is the full content of the state map of a server without
// sites: the server-wide state, as "state" and as the site default.
func StateMapText(s State) []byte {
	return StatesText([]SiteState{{Name: ServerWide, State: s}})
}

// StatesText is the full content of the state map: the line "state X"
// (the server-wide switch, read by configurations that name no site),
// then one line "NAME X" per site, the site "default" among them. Without
// a "default" entry, "state" says on: Apache then asks, which is safe.
func StatesText(sites []SiteState) []byte {
	server := On
	for _, s := range sites {
		if s.Name == ServerWide {
			server = s.State
		}
	}
	b := []byte("# maintgate state map (RewriteMap txt:), kept by maintgate; do not edit.\n# Apache asks maintgate only while a site's line says on.\nstate " + string(server) + "\n")
	for _, s := range sites {
		b = append(b, s.Name...)
		b = append(b, ' ')
		b = append(b, s.State...)
		b = append(b, '\n')
	}
	return b
}

// stateMax bounds what is read of a state map: its text is under 200 bytes.
const stateMax = 64 << 10

// ReadState returns what the state map at path says of the server-wide
// switch (its "state" line), "" when missing or unreadable (a FIFO or
// device there included: it is never waited on).
func ReadState(path string) State { return ReadStates(path)["state"] }

// ReadStates returns every line of the state map at path, by key
// ("state", "default", each site), as Apache's txt: map reads it (the
// first line with a key wins); nil when missing or unreadable.
func ReadStates(path string) map[string]State {
	data, err := regfile.Read(path, stateMax)
	if err != nil {
		return nil
	}
	m := map[string]State{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if _, dup := m[fields[0]]; !dup {
			m[fields[0]] = State(fields[1])
		}
	}
	return m
}

// WriteState makes the state map of a server without sites say s
// (StateMapText). A server with sites writes them all with WriteStates.
func WriteState(path string, s State) (changed bool, err error) {
	return write(path, StateMapText(s))
}

// WriteStates makes the state map say sites (StatesText), writing only
// when it does not already: every write changes the mtime and makes each
// Apache child re-read the map.
func WriteStates(path string, sites []SiteState) (changed bool, err error) {
	return write(path, StatesText(sites))
}

func write(path string, want []byte) (changed bool, err error) {
	if path == "" {
		return false, nil
	}
	if old, err := regfile.Read(path, stateMax); err == nil && bytes.Equal(old, want) {
		return false, nil
	}
	if err := WriteAtomic(path, want, 0o644); err != nil {
		return false, fmt.Errorf("state map: %w", err)
	}
	return true, nil
}
