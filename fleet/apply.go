package fleet

import (
	"bytes"
	"errors"
	"io/fs"
	"syscall"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/internal/regfile"
)

// apply.go: what Redis holds, written into this host's flag files. Only
// the sites configured here are read and written, each at the path the
// configuration gives it: a name in Redis never becomes a path.

// Site is one switch the mirror keeps: its name in Redis and its local
// flag file.
type Site struct{ Name, FlagFile string }

// SitesOf are every switch of cfg, the server-wide one first.
func SitesOf(cfg *config.Config) []Site {
	names := cfg.SiteNames()
	out := make([]Site, 0, len(names))
	for _, n := range names {
		p, err := cfg.FlagFileOf(n)
		if err != nil {
			continue
		}
		out = append(out, Site{Name: n, FlagFile: p})
	}
	return out
}

// Change is one local flag file the mirror changed.
type Change struct {
	Site string
	On   bool // written (on or updated); false: removed
}

// Apply makes each site's flag file hold what snap holds: the bytes
// of its key, written atomically when they differ from the file's, or
// no file when the key is absent and its KEY:written:SITE marker says a
// fleet-wide off was written. An absent key without its marker says
// nothing (Redis lost its data, or the fleet never switched that site):
// the file stays, and kept names the sites whose flag stays on so. A
// file already right is not touched: every write wakes each map's
// watcher and Apache's state map readers. It goes on past a failure and
// returns the first one.
func Apply(sites []Site, snap Snapshot) (changes []Change, kept []string, first error) {
	for _, s := range sites {
		want, on := snap.Flags[s.Name]
		have, err := regfile.Read(s.FlagFile, flagfile.MaxSize+1)
		exists := err == nil || !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR)
		switch {
		case on && err == nil && bytes.Equal(have, want):
			continue
		case on:
			if werr := flagfile.WriteCopy(s.FlagFile, want, 0o644); werr != nil {
				first = firstErr(first, werr)
				continue
			}
		case !exists:
			continue
		case !snap.Known[s.Name]:
			kept = append(kept, s.Name)
			continue
		default:
			if rerr := flagfile.Remove(s.FlagFile); rerr != nil {
				first = firstErr(first, rerr)
				continue
			}
		}
		changes = append(changes, Change{Site: s.Name, On: on})
	}
	return changes, kept, first
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
