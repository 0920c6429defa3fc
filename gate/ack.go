package gate

import (
	"os"
	"slices"

	"github.com/maintgate/maintgate/flagfile"
)

// acker writes the map's acknowledgement (flagfile.WriteAck): the version
// of every site's flag file this process has applied. `maintgate on` and
// `off` wait for it, so that the request that follows them is decided by
// the flag they wrote (see flagfile/ack.go). Only the watcher goroutine
// uses it.
type acker struct {
	path   string
	sites  []flagfile.SiteVersion // as last written
	buf    []flagfile.SiteVersion
	stamp  stamp // the file as last written
	failed bool  // the last write failed (logged once until one succeeds)
}

// ack writes the acknowledgement when what the map has applied differs
// from what it last wrote, or the file is not the one it wrote (removed,
// or written by another map of the same state map).
func (g *Gate) ack(a *acker) {
	g.flagMu.Lock()
	defer g.flagMu.Unlock()
	s := g.snap.Load()
	if s.Broken || s.Config.StateMap == "" {
		return
	}
	path := flagfile.AckPath(s.Config.StateMap)
	vs := a.buf[:0]
	for _, st := range s.SiteList {
		vs = append(vs, flagfile.SiteVersion{Name: st.Name, Version: st.flag.stamp})
	}
	a.buf = vs
	if path == a.path && slices.Equal(vs, a.sites) && statStamp(path) == a.stamp {
		return
	}
	if err := flagfile.WriteAck(path, os.Getpid(), vs); err != nil {
		if !a.failed {
			g.Logger().Error().Err(err).Msg("cannot write the acknowledgement file: maintgate on/off will wait for it up to 2 s and say so; requests are still decided by the flags")
		}
		a.failed = true
		return
	}
	a.failed = false
	a.path = path
	a.sites = append(a.sites[:0], vs...)
	a.stamp = statStamp(path)
}

// flagPaths are the flag files of every site, for the notifier.
func flagPaths(s *Snapshot) []string {
	if s.Broken {
		return nil
	}
	out := make([]string, 0, len(s.SiteList))
	for _, st := range s.SiteList {
		out = append(out, st.flag.path)
	}
	return out
}
