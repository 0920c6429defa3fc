package preflight

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/config"
)

// operate checks the directories of the files that what runs beside the
// map writes: the map's counters (stats_file) and the audit log. A missing
// directory is no error: the map answers without its counters, a change is
// made without its record. For a key the operator set, that is a warning;
// for a default (/var/lib/maintgate, /var/log/maintgate: the package makes
// both), a note.
func (c *checker) operate() {
	c.dirOf(toml.Key{"stats_file"}, c.cfg.StatsFile, "the map writes no counters (the panel's live view stays empty)")
	c.dirOf(toml.Key{"panel", "audit_log"}, c.cfg.Panel.AuditLog, "on, off and the panel's changes are made but not recorded")
}

func (c *checker) dirOf(k toml.Key, path, consequence string) {
	if path == "" {
		return
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return
	}
	if !c.md.IsDefined(k...) {
		c.r.Notes = append(c.r.Notes, fmt.Sprintf("%s: %s does not exist: %s (the Debian package makes it)", k, dir, consequence))
		return
	}
	c.r.Warnings = append(c.r.Warnings, fmt.Sprintf("%s: directory %s does not exist: %s",
		c.at(config.LineOf(c.data, k), k.String()), dir, consequence))
}
