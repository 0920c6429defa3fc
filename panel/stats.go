package panel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"github.com/maintgate/maintgate/internal/regfile"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stats.go: the map's counters, read from stats_file (written by the
// map every 10 s in node_exporter's textfile format), and the last hour
// of them kept in memory for the chart. The panel only reads the file:
// a panel that is slow, stopped or crashed changes nothing for the map.

// Reasons are the reason labels of maintgate_answers_total, in the
// order the map writes them (gate/stats.go).
var Reasons = []string{"inactive", "allowed_path", "admin_path", "whitelisted", "window_allow", "token", "session", "redirected"}

// Counters are one reading of stats_file.
type Counters struct {
	Answers        map[string]uint64 // by reason; "redirected" is the redirects
	Unreadable     uint64
	SessionLookups uint64
	CacheHits      uint64
	DBErrors       uint64
	MapStart       time.Time
	Written        time.Time
}

// Allowed is every answer but redirect.
func (c Counters) Allowed() uint64 {
	var n uint64
	for r, v := range c.Answers {
		if r != "redirected" {
			n += v
		}
	}
	return n
}

// Redirected is the redirect answers.
func (c Counters) Redirected() uint64 { return c.Answers["redirected"] }

// errNoStats: the file has none of the map's series.
var errNoStats = errors.New("no maintgate counters in the file")

// ParseCounters reads the text format the map writes. Comments, unknown
// series and lines that do not parse are ignored (the file is the map's,
// but a node_exporter textfile directory may be shared).
func ParseCounters(data []byte) (Counters, error) {
	c := Counters{Answers: map[string]uint64{}}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseUint(line[i+1:], 10, 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:i], "{")
		found = found || strings.HasPrefix(name, "maintgate_")
		switch name {
		case "maintgate_answers_total":
			if r := labelValue(labels, "reason"); r != "" {
				c.Answers[r] = v
			}
		case "maintgate_unreadable_lines_total":
			c.Unreadable = v
		case "maintgate_session_lookups_total":
			c.SessionLookups = v
		case "maintgate_session_cache_hits_total":
			c.CacheHits = v
		case "maintgate_session_db_errors_total":
			c.DBErrors = v
		case "maintgate_map_start_time_seconds":
			c.MapStart = time.Unix(int64(v), 0)
		case "maintgate_stats_time_seconds":
			c.Written = time.Unix(int64(v), 0)
		}
	}
	if !found {
		return c, errNoStats
	}
	return c, nil
}

// labelValue finds name="value" in a label list (after the '{').
func labelValue(labels, name string) string {
	i := strings.Index(labels, name+`="`)
	if i < 0 {
		return ""
	}
	rest := labels[i+len(name)+2:]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// sample is one reading, at the time the map wrote it.
type sample struct {
	at         time.Time
	start      time.Time
	allowed    uint64
	redirected uint64
}

// history keeps the last hour of samples.
type history struct {
	mu      sync.Mutex
	samples []sample
	last    Counters
	lastErr error
}

// historyLen is an hour of the map's 10 s writes, and some spare.
const historyLen = 400

// read reads the file once and keeps the reading when it is new.
func (h *history) read(path string) {
	c, err := readCounters(path)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last, h.lastErr = c, err
	if err != nil {
		return
	}
	if n := len(h.samples); n > 0 && !c.Written.After(h.samples[n-1].at) {
		return
	}
	h.samples = append(h.samples, sample{at: c.Written, start: c.MapStart, allowed: c.Allowed(), redirected: c.Redirected()})
	if len(h.samples) > historyLen {
		h.samples = append(h.samples[:0], h.samples[len(h.samples)-historyLen:]...)
	}
}

// snapshot is the last reading and a copy of the samples.
func (h *history) snapshot() (Counters, []sample, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last, append([]sample(nil), h.samples...), h.lastErr
}

// run samples path every interval until ctx ends.
func (h *history) run(ctx context.Context, path string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		h.read(path)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func readCounters(path string) (Counters, error) {
	if path == "" {
		return Counters{}, errors.New("stats_file is not set: the map writes no counters")
	}
	data, err := regfile.Read(path, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return Counters{}, errors.New("no counters yet: " + path + " does not exist (the map writes it every 10 s while it runs)")
	}
	if err != nil {
		return Counters{}, err
	}
	return ParseCounters(data)
}
