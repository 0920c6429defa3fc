package fleet

import (
	"bytes"
	"fmt"
	"github.com/maintgate/maintgate/flagfile"
	"strconv"
	"strings"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/internal/regfile"
)

// link.go: the link status file. The map's mirror writes it (by rename)
// at each change of its link and after each sync; `maintgate status`
// reads it, so an operator sees whether this host follows the fleet
// without status itself asking Redis. It never holds the password: the
// URL is redacted and errors are scrubbed (Error).
//
//	# comment lines
//	pid 1234
//	redis redis://:xxxxx@10.0.0.5:6379/0
//	key maintgate
//	connected yes
//	since 2026-12-03T10:31:02Z
//	last_sync 2026-12-03T10:40:12Z
//	written 2026-12-03T10:31:02.123456789Z
//	keys_lost no
//	kept -
//	events subscribed
//	last_error_at 2026-12-03T10:20:00Z
//	last_error fleet Redis redis://:xxxxx@10.0.0.5:6379/0: read the switches: dial tcp …: connection refused

// Link is the mirror's view of its link to Redis.
type Link struct {
	PID       int
	Redis     string // redacted URL
	Key       string
	Connected bool
	Since     time.Time // when Connected last changed (or the map started)
	LastSync  time.Time // the last read of every key that succeeded
	Written   string    // KEY:written at the last sync; "" none
	KeysLost  bool      // Redis answered without KEY:written
	// Kept are the sites (comma-separated) whose flag this host keeps on
	// although Redis holds neither their key nor KEY:written:SITE.
	Kept string
	// Events is the subscription to KEY:events: "subscribed", "refused:
	// …" (changes then reach this host at each resync only), or "".
	Events    string
	ErrorAt   time.Time
	LastError string
}

// LinkPath is where the map of cfg writes its link status: beside the
// state map, or beside the flag file when there is none.
func LinkPath(cfg *config.Config) string {
	if cfg.StateMap != "" {
		return cfg.StateMap + ".fleet"
	}
	return cfg.FlagFile + ".fleet"
}

// linkMax bounds what is read of a link file: its text is under 1 KiB.
const linkMax = 64 << 10

// Format is the file's text for l. Values are made one line each.
func (l Link) Format() []byte {
	var b bytes.Buffer
	b.WriteString("# maintgate map: its link to the fleet's Redis; maintgate status reads it. Do not edit.\n")
	fmt.Fprintf(&b, "pid %d\n", l.PID)
	line(&b, "redis", l.Redis)
	line(&b, "key", l.Key)
	line(&b, "connected", yesNo(l.Connected))
	line(&b, "since", stamp(l.Since))
	line(&b, "last_sync", stamp(l.LastSync))
	line(&b, "written", l.Written)
	line(&b, "keys_lost", yesNo(l.KeysLost))
	line(&b, "kept", l.Kept)
	line(&b, "events", l.Events)
	line(&b, "last_error_at", stamp(l.ErrorAt))
	line(&b, "last_error", l.LastError)
	return b.Bytes()
}

func line(b *bytes.Buffer, k, v string) {
	v = strings.Join(strings.Fields(v), " ")
	if v == "" {
		v = "-"
	}
	b.WriteString(k + " " + v + "\n")
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ParseLink reads a link file's text. Unknown lines are skipped (a newer
// map may write more); a file without a pid line is an error.
func ParseLink(data []byte) (Link, error) {
	var l Link
	for _, ln := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(ln), " ")
		if k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.Join(strings.Fields(v), " ") // as Format writes it
		if v == "-" {
			v = ""
		}
		switch k {
		case "pid":
			l.PID, _ = strconv.Atoi(v)
		case "redis":
			l.Redis = v
		case "key":
			l.Key = v
		case "connected":
			l.Connected = v == "yes"
		case "since":
			l.Since = parseStamp(v)
		case "last_sync":
			l.LastSync = parseStamp(v)
		case "written":
			l.Written = v
		case "keys_lost":
			l.KeysLost = v == "yes"
		case "kept":
			l.Kept = v
		case "events":
			l.Events = v
		case "last_error_at":
			l.ErrorAt = parseStamp(v)
		case "last_error":
			l.LastError = v
		}
	}
	if l.PID <= 0 {
		return Link{}, fmt.Errorf("no pid line")
	}
	return l, nil
}

func parseStamp(v string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// ReadLink reads the link file at path.
func ReadLink(path string) (Link, error) {
	data, err := regfile.Read(path, linkMax)
	if err != nil {
		return Link{}, fmt.Errorf("fleet link %s: %w", path, err)
	}
	l, err := ParseLink(data)
	if err != nil {
		return Link{}, fmt.Errorf("fleet link %s: %w", path, err)
	}
	return l, nil
}

// WriteLink writes l to path by rename (unsynced: it describes a live process).
func WriteLink(path string, l Link) error {
	return flagfile.WriteCopy(path, l.Format(), 0o644)
}
