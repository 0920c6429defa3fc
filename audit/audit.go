// Package audit keeps the record of who changed what: one JSON line per
// change, appended by `maintgate on/off` and by the panel alike, so the
// question "who took the site down, and through what?" has one answer.
//
// A line is written with one write(2) on a file opened O_APPEND: lines
// from processes writing at the same time never interleave (a line is far
// below PIPE_BUF on any Linux file system that matters here).
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/maintgate/maintgate/internal/regfile"
)

// Entry is one change.
type Entry struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"`
	Via    string    `json:"via"`    // "cli", "panel"
	Action string    `json:"action"` // "on", "off", "whitelist", "token"
	Site   string    `json:"site,omitempty"`
	// Details say what changed; never a token, cookie or password.
	Details map[string]any `json:"details,omitempty"`
}

// Append adds e to the log at path, creating it with mode 0640 (it names
// people and addresses). A zero Time is now.
func Append(path string, e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}
	// O_NONBLOCK and a regular file only: a FIFO here must not block
	// every on/off.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK, 0o640)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("audit log %s: not a regular file", path)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}
	return nil
}

// tailBytes is how much of the log's end Latest reads: a few thousand
// lines, whatever the file's size.
const tailBytes = 1 << 20

// Latest returns up to n entries, newest first, from the end of the log.
// A missing file is no entries. Lines that do not parse (a line cut by a
// full disk, an edit by hand) are skipped.
func Latest(path string, n int) ([]Entry, error) {
	f, err := regfile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	off := max(st.Size()-tailBytes, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	if off > 0 {
		// The first line read is probably cut.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return parseTail(b, n), nil
}

// parseTail parses the last n good lines of b, newest first.
func parseTail(b []byte, n int) []Entry {
	var out []Entry
	lines := bytes.Split(b, []byte("\n"))
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if len(bytes.TrimSpace(lines[i])) == 0 {
			continue
		}
		var e Entry
		if json.Unmarshal(lines[i], &e) == nil && !e.Time.IsZero() {
			out = append(out, e)
		}
	}
	return slices.Clip(out)
}
