package gate

import (
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// stamp identifies one version of a file cheaply, from one stat
// (flagfile.Version, which the on/off acknowledgement writes too). The
// ctime is in it because the mtime is not enough: a file rewritten in
// place with the same size and its mtime put back (touch -r, rsync -t, a
// restore) keeps inode, size and mtime, but the kernel moves its ctime on
// every write, chmod and utimes, and nothing but the kernel can set it.
type stamp = flagfile.Version

// statStamp stats path without allocating a stat buffer (syscall.Stat,
// not os.Stat): the answer path calls it for a line that arrives while
// maintenance looks off.
func statStamp(path string) stamp { return flagfile.StatVersion(path) }

// watched lists the files whose change means a reload.
func watched(c *config.Config) []string {
	files := []string{c.Path}
	for _, f := range []string{c.WhitelistFile, c.Token.KeyFile, c.Session.SecretKeyFile} {
		if f != "" {
			files = append(files, f)
		}
	}
	for _, name := range c.SiteNames()[1:] {
		if f := c.Sites[name].WhitelistFile; f != "" {
			files = append(files, f)
		}
	}
	return files
}

func (g *Gate) stampAll(s *Snapshot) {
	m := map[string]stamp{}
	for _, f := range watched(s.Config) {
		m[f] = statStamp(f)
	}
	g.stamps = m
}

func (g *Gate) changed(path string) bool {
	if path == "" {
		return false
	}
	old, ok := g.stamps[path]
	return !ok || old != statStamp(path)
}

// anyChanged reports whether any file stamped at the last load changed.
func (g *Gate) anyChanged() bool {
	for f := range g.stamps {
		if g.changed(f) {
			return true
		}
	}
	return false
}
