package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// operate.go: the keys of what runs beside the map: the map's counters
// file, the control panel and the fleet link.

// Panel is the [panel] table: `maintgate panel`, the web control panel.
type Panel struct {
	// Listen is host:port, or unix:/path for a socket.
	Listen string `toml:"listen"`
	// Auth lists the sign-in methods: "django" (a session of a user the
	// gate's session rule lets through as superuser) and "htpasswd".
	Auth         []string `toml:"auth"`
	HtpasswdFile string   `toml:"htpasswd_file"`
	// AuditLog receives one JSON line per change, from the panel and the
	// command line alike.
	AuditLog string `toml:"audit_log"`
}

// Fleet is the [fleet] table: one switch for many servers through Redis.
type Fleet struct {
	// Redis is redis://[:password@]host:port/db or rediss://…; empty: no
	// fleet, each host keeps its own flag files.
	Redis  string   `toml:"redis"`
	Key    string   `toml:"key"`
	Resync Duration `toml:"resync"`
	// CAFile is a PEM bundle, the only CAs a rediss:// server's
	// certificate is checked against (empty: the system's). Named here,
	// not through SSL_CERT_FILE, which sudo drops: the map and the
	// commands run by an operator would trust different CAs.
	CAFile string `toml:"ca_file"`
}

// Panel and fleet defaults (DESIGN.md).
const (
	DefaultStatsFile   = "/var/lib/maintgate/stats.prom"
	DefaultPanelListen = "127.0.0.1:8099"
	DefaultAuditLog    = "/var/log/maintgate/audit.log"
	DefaultFleetKey    = "maintgate"
	DefaultResync      = 30 * time.Second
)

// defaultStatsFile is stats.prom beside the state map (beside the flag
// file when there is none): DefaultStatsFile for the default paths, and
// for a server with two maintgate configurations, or a test's temporary
// directory, a file of their own rather than one they would overwrite in
// turn.
func (c *Config) defaultStatsFile() string {
	base := c.StateMap
	if base == "" {
		base = c.FlagFile
	}
	return filepath.Join(filepath.Dir(base), "stats.prom")
}

func defaultPanel() Panel {
	return Panel{Listen: DefaultPanelListen, Auth: []string{"django"}, AuditLog: DefaultAuditLog}
}

func defaultFleet() Fleet {
	return Fleet{Key: DefaultFleetKey, Resync: Duration{DefaultResync}}
}

// validateOperate checks stats_file, [panel] and [fleet].
func (c *Config) validateOperate() []string {
	var p []string
	bad := func(key, format string, args ...any) {
		p = append(p, fmt.Sprintf("config %s: %s: ", c.Path, key)+fmt.Sprintf(format, args...))
	}
	pn := &c.Panel
	if pn.Listen == "" {
		bad("panel.listen", "must not be empty (host:port or unix:/path)")
	} else if path, ok := strings.CutPrefix(pn.Listen, "unix:"); ok && !filepath.IsAbs(path) {
		bad("panel.listen", "%q: a socket is unix:/absolute/path", pn.Listen)
	}
	for i, a := range pn.Auth {
		switch a {
		case "django", "htpasswd":
		default:
			bad(fmt.Sprintf("panel.auth[%d]", i), "%q must be \"django\" or \"htpasswd\"", a)
		}
		if a == "htpasswd" && pn.HtpasswdFile == "" {
			bad("panel.htpasswd_file", "must be set when panel.auth has \"htpasswd\"")
		}
	}
	f := &c.Fleet
	if f.Redis != "" {
		if err := checkRedisURL(f.Redis); err != nil {
			bad("fleet.redis", "%v", err)
		}
	}
	if f.CAFile != "" && !strings.HasPrefix(f.Redis, "rediss://") {
		bad("fleet.ca_file", "is set but fleet.redis is not a rediss:// URL: the CA file is only used for TLS (remove ca_file, or use rediss://)")
	}
	if f.Key == "" || strings.ContainsAny(f.Key, " \t\r\n*?[]") {
		bad("fleet.key", "%q must be a non-empty Redis key prefix without blanks or glob characters", f.Key)
	}
	if f.Resync.Duration < time.Second {
		bad("fleet.resync", "%s is below 1s", f.Resync.Duration)
	}
	return p
}

// checkRedisURL accepts redis:// and rediss:// with a host name, a
// database number or nothing for the path, and no query or fragment (a
// '#' in a password must be written %23: unescaped, it would cut the
// password and dial another host). Its errors never quote the URL: it may
// hold a password.
func checkRedisURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL like redis://host:6379/0 (the value is not repeated here: it may hold a password; write %% as %%25, # as %%23, / as %%2F in a password)")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("scheme %q must be redis or rediss", u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("no host: write redis://host:6379/0")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("a '#' in the URL: in a password write it %%23")
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if _, err := strconv.Atoi(db); err != nil {
			return fmt.Errorf("the path must be a database number, like /0 (a '/' in a password is written %%2F)")
		}
	}
	if u.User != nil {
		if _, hasPw := u.User.Password(); !hasPw {
			return fmt.Errorf("user info without ':': write redis://:PASSWORD@host or redis://USER:PASSWORD@host")
		}
	}
	return nil
}

// RedactURL returns s for logs, status and `config check`, rebuilt from
// its parts with any password replaced by "xxxxx": scheme, user, host,
// port and database only. A value that does not parse, or that
// checkRedisURL refuses, is not shown at all (a refused URL is where a
// password ends up in the host or path).
func RedactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || checkRedisURL(s) != nil {
		return "(a Redis URL, not shown)"
	}
	out := u.Scheme + "://"
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			out += url.PathEscape(name)
		}
		out += ":xxxxx@"
	}
	return out + u.Host + u.Path
}
