package fleet

import (
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/config"
)

// reload.go: the mirror keeps the [fleet] and the sites it started with
// (its Redis client, its key names and the flag files it writes), while
// the map's watcher reloads the rest of the configuration. A reload that
// changes them is not followed until the map restarts (apachectl
// graceful); the mirror says so in a WARN, once per change, by checking
// the configuration file at each resync (one stat; a load when it moved).

// configWatch notices a configuration file whose [fleet] or sites
// differ from the mirror's.
type configWatch struct {
	path   string
	mod    time.Time
	size   int64
	fleet  config.Fleet
	sites  []Site
	warned string // the difference last warned of
}

func newConfigWatch(cfg *config.Config, sites []Site) *configWatch {
	w := &configWatch{path: cfg.Path, fleet: cfg.Fleet, sites: sites}
	if st, err := os.Stat(cfg.Path); err == nil {
		w.mod, w.size = st.ModTime(), st.Size()
	}
	return w
}

// check warns when the file now configures another [fleet] or other
// sites than the mirror follows. A file that does not load is the
// watcher's to report.
func (w *configWatch) check(log *zerolog.Logger) {
	if w.path == "" {
		return
	}
	st, err := os.Stat(w.path)
	if err != nil || st.ModTime().Equal(w.mod) && st.Size() == w.size {
		return
	}
	w.mod, w.size = st.ModTime(), st.Size()
	cfg, err := config.Load(w.path)
	if err != nil {
		return
	}
	var diff []string
	if cfg.Fleet != w.fleet {
		diff = append(diff, "[fleet]")
	}
	if !slices.Equal(SitesOf(cfg), w.sites) {
		diff = append(diff, "the sites or their flag files")
	}
	d := strings.Join(diff, " and ")
	if d != "" && d != w.warned {
		log.Warn().Str("config", w.path).Str("changed", d).
			Msg("fleet: the configuration changed what the mirror follows; it keeps the [fleet] and sites it started with until the map restarts (apachectl graceful)")
	}
	w.warned = d
}
