// Package config loads maintgate's one TOML file into an immutable Config.
//
// Every key has a default, so an empty file is a valid configuration. Unknown
// keys are errors that name the key and its line: a typo such as
// "whitlist" must not silently leave a site without its whitelist.
// Validation gathers every problem and reports them all at once.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/session/settings"
	"github.com/maintgate/maintgate/internal/regfile"
)

// DefaultPath is where the binary looks when -config is not given.
const DefaultPath = "/etc/maintgate/maintgate.toml"

// Config is one loaded configuration. Treat it as read-only once Load
// returns: the map loop shares it between goroutines.
type Config struct {
	// Path is the file the configuration was read from ("" for defaults).
	Path string `toml:"-"`

	FlagFile                    string   `toml:"flag_file"`
	StateMap                    string   `toml:"state_map"`
	MaintenancePage             string   `toml:"maintenance_page"`
	AllowPaths                  []string `toml:"allow_paths"`
	AdminPaths                  []string `toml:"admin_paths"`
	Languages                   []string `toml:"languages"`     // see decision.go
	BackendPaths                string   `toml:"backend_paths"` // "standard" or "servlet"
	AllowAdminDuringMaintenance bool     `toml:"allow_admin_during_maintenance"`
	Whitelist                   []string `toml:"whitelist"`
	WhitelistFile               string   `toml:"whitelist_file"`
	TrustedProxies              []string `toml:"trusted_proxies"`
	OnError                     string   `toml:"on_error"`
	// PageTemplate and PageFile: `maintgate on` renders the maintenance
	// page from the template into PageFile, so the page shows the message
	// and end time. Both empty: the page is left alone.
	PageTemplate string `toml:"page_template"`
	PageFile     string `toml:"page_file"`
	// StatsFile is where `maintgate map` writes its counters every 10 s
	// (node_exporter's textfile format); "" writes none.
	StatsFile string `toml:"stats_file"`

	Log     Log     `toml:"log"`
	Token   Token   `toml:"token"`
	Session Session `toml:"session"`
	Panel   Panel   `toml:"panel"` // operate.go
	Fleet   Fleet   `toml:"fleet"` // operate.go
	// Sites are the [sites.NAME] tables (sites.go); the server-wide
	// switch above is the site DefaultSite.
	Sites map[string]Site `toml:"sites"`
}

// Log configures where and how decisions are logged.
type Log struct {
	File   string `toml:"file"`
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Token configures the signed bypass cookie.
type Token struct {
	Cookie  string `toml:"cookie"`
	KeyFile string `toml:"key_file"`
}

// Session configures the Django session lookup.
type Session struct {
	Store         string `toml:"store"`
	Cookie        string `toml:"cookie"`
	Database      string `toml:"database"`
	SecretKeyFile string `toml:"secret_key_file"`
	SessionTable  string `toml:"session_table"`
	UserTable     string `toml:"user_table"`
	// Allow says whose sessions pass: "superuser", "staff", "active",
	// "group:NAME" (settings.ParseAllow); any one rule lets a user through.
	Allow           []string `toml:"allow"`
	GroupTable      string   `toml:"group_table"`
	UserGroupsTable string   `toml:"user_groups_table"`
	CacheSize       int      `toml:"cache_size"`
	CacheTTL        Duration `toml:"cache_ttl"`
	NegativeTTL     Duration `toml:"negative_ttl"`
	LookupTimeout   Duration `toml:"lookup_timeout"`
	MissRate        float64  `toml:"miss_rate"`
	MaxConns        int      `toml:"max_conns"`
	CookieAge       Duration `toml:"cookie_age"`
	// TimeZone is the zone of zoneless expire_date values (SQLite, MySQL):
	// "UTC" for Django's USE_TZ = True, else Django's TIME_ZONE.
	TimeZone string `toml:"time_zone"`
}

// Equal says whether s and o configure the same session checker: a
// reload keeps the checker, and its cache, only when they do. A change of
// allow must empty the cache (a cached "not a superuser" may now pass).
// DeepEqual, not ==, which a slice in the struct rules out; it compares
// every field, so a field added later is compared too.
func (s Session) Equal(o Session) bool {
	return reflect.DeepEqual(s, o)
}

// Duration is a time.Duration written as "60s" in TOML and printed back the
// same way by `maintgate config check`.
type Duration struct{ time.Duration }

// UnmarshalText accepts Go duration syntax ("100ms", "1m30s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"60s\" or \"100ms\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText prints the duration as Go writes it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration an empty file gives.
func Default() *Config {
	return &Config{
		FlagFile:                    "/var/lib/maintgate/maintenance",
		StateMap:                    "/var/lib/maintgate/state.map",
		MaintenancePage:             "/maintenance.html",
		AllowPaths:                  []string{"/static/", "/media/", "/maintenance.html", "/robots.txt"},
		AdminPaths:                  []string{"/admin/"},
		Languages:                   authz.DjangoLanguages(),
		BackendPaths:                "standard",
		AllowAdminDuringMaintenance: true,
		Whitelist:                   []string{},
		TrustedProxies:              []string{},
		OnError:                     "redirect",
		StatsFile:                   DefaultStatsFile,
		Panel:                       defaultPanel(),
		Fleet:                       defaultFleet(),
		Log:                         Log{Level: "info", Format: "json"},
		Token:                       Token{Cookie: "maintgate_bypass"},
		// The session checker's own defaults, written once.
		Session: Session{
			Store:           "none",
			Cookie:          "sessionid",
			SessionTable:    settings.SessionTable,
			UserTable:       settings.UserTable,
			Allow:           settings.DefaultAllow(),
			GroupTable:      settings.GroupTable,
			UserGroupsTable: settings.UserGroupsTable,
			CacheSize:       settings.CacheSize,
			CacheTTL:        Duration{settings.CacheTTL},
			NegativeTTL:     Duration{settings.NegativeTTL},
			LookupTimeout:   Duration{settings.LookupTimeout},
			MissRate:        settings.MissRate,
			MaxConns:        settings.MaxConns,
			CookieAge:       Duration{settings.CookieAge},
			TimeZone:        settings.TimeZone,
		},
	}
}

// Load reads and validates the file at path. A missing file is an error:
// an operator who names a file means that file.
func Load(path string) (*Config, error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	data, err := regfile.Read(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes TOML text; name is used in error messages.
func Parse(data []byte, name string) (*Config, error) {
	c := Default()
	c.Path = name
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config %s:%d: %s", name, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	var problems []string
	for _, k := range md.Undecoded() {
		problems = append(problems, fmt.Sprintf("config %s:%d: unknown key %q", name, lineOf(data, k), k.String()))
	}
	problems = append(problems, c.validate()...)
	problems = append(problems, c.validateDecision(data)...)
	problems = append(problems, c.validateSites(data)...)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	c.normalize()
	c.resolve(filepath.Dir(name))
	if !md.IsDefined("stats_file") {
		c.StatsFile = c.defaultStatsFile()
	}
	if problems := c.resolveSites(filepath.Dir(name)); len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return c, nil
}

// resolve makes relative file names relative to the config file's
// directory, not to whatever directory Apache or the operator ran us from.
func (c *Config) resolve(dir string) {
	for _, p := range []*string{&c.FlagFile, &c.StateMap, &c.WhitelistFile, &c.PageTemplate, &c.PageFile,
		&c.Log.File, &c.Token.KeyFile, &c.Session.SecretKeyFile,
		&c.StatsFile, &c.Panel.HtpasswdFile, &c.Panel.AuditLog, &c.Fleet.CAFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Error lists every problem found in one configuration.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// isCookieName accepts an RFC 6265 cookie name (an HTTP token). Loops, not
// regexps: package-level regexps are compiled by every forked `maintgate
// authz`.
func isCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func (c *Config) validate() []string {
	var p []string
	bad := func(key, format string, args ...any) {
		p = append(p, fmt.Sprintf("config %s: %s: ", c.Path, key)+fmt.Sprintf(format, args...))
	}
	if c.FlagFile == "" {
		bad("flag_file", "must not be empty")
	}
	if c.StateMap != "" && c.StateMap == c.FlagFile {
		bad("state_map", "must differ from flag_file")
	}
	if !strings.HasPrefix(c.MaintenancePage, "/") {
		bad("maintenance_page", "%q must be a path starting with /", c.MaintenancePage)
	}
	for i, s := range c.AllowPaths {
		if !strings.HasPrefix(s, "/") {
			bad(fmt.Sprintf("allow_paths[%d]", i), "%q must start with /", s)
		}
	}
	for i, s := range c.AdminPaths {
		if !strings.HasPrefix(s, "/") || s == "/" {
			bad(fmt.Sprintf("admin_paths[%d]", i), "%q must start with / and name a prefix", s)
		}
	}
	switch c.OnError {
	case "redirect", "allow":
	default:
		bad("on_error", "%q must be \"redirect\" or \"allow\"", c.OnError)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "warning", "error":
	default:
		bad("log.level", "%q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", "%q must be json or console", c.Log.Format)
	}
	if !isCookieName(c.Token.Cookie) {
		bad("token.cookie", "%q is not a cookie name", c.Token.Cookie)
	}
	if (c.PageTemplate == "") != (c.PageFile == "") {
		bad("page_template", "page_template and page_file go together")
	}
	p = append(p, c.validateOperate()...)
	return append(p, c.validateSession()...)
}

// validateSession checks the [session] table.
func (c *Config) validateSession() []string {
	var p []string
	bad := func(key, format string, args ...any) {
		p = append(p, fmt.Sprintf("config %s: %s: ", c.Path, key)+fmt.Sprintf(format, args...))
	}
	s := &c.Session
	switch s.Store {
	case "none":
	case "django", "django-signed-cookies":
		if s.Store == "django" && s.Database == "" {
			bad("session.database", "must be set when session.store is %q", s.Store)
		}
		if s.Store == "django-signed-cookies" && s.SecretKeyFile == "" {
			bad("session.secret_key_file", "must be set when session.store is %q (the cookie is the session)", s.Store)
		}
	default:
		bad("session.store", "%q must be none, django or django-signed-cookies", s.Store)
	}
	if !isCookieName(s.Cookie) {
		bad("session.cookie", "%q is not a cookie name", s.Cookie)
	}
	if s.Cookie == c.Token.Cookie {
		bad("session.cookie", "must differ from token.cookie")
	}
	// Tables, sizes and durations: the checker's own rules and wording.
	for _, pr := range settings.Check(settings.Values{
		SessionTable: s.SessionTable, UserTable: s.UserTable, CacheSize: s.CacheSize,
		GroupTable: s.GroupTable, UserGroupsTable: s.UserGroupsTable, Allow: s.Allow,
		CacheTTL: s.CacheTTL.Duration, NegativeTTL: s.NegativeTTL.Duration, LookupTimeout: s.LookupTimeout.Duration,
		CookieAge: s.CookieAge.Duration, MissRate: s.MissRate, MaxConns: s.MaxConns,
	}) {
		bad("session."+pr.Key, "%s", pr.Msg)
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		bad("session.time_zone", "%q is not a time zone name", s.TimeZone)
	}
	return p
}

// normalize puts paths into the form the decision compares against.
func (c *Config) normalize() {
	c.AllowPaths = cleanPrefixes(c.AllowPaths)
	c.AdminPaths = cleanPrefixes(c.AdminPaths)
	if c.Log.Level == "warning" {
		c.Log.Level = "warn"
	}
}

// cleanPrefixes removes dot segments and doubled slashes, keeping a trailing
// slash: "/static//" and "/static/" name one prefix.
func cleanPrefixes(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		cl := path.Clean(s)
		if strings.HasSuffix(s, "/") && cl != "/" {
			cl += "/"
		}
		out = append(out, cl)
	}
	return out
}

// Encode writes the effective configuration as TOML, for `config check`.
// The fleet's Redis URL is printed without its password.
func (c *Config) Encode(w *bufio.Writer) error {
	shown := *c
	shown.Fleet.Redis = RedactURL(c.Fleet.Redis)
	if err := toml.NewEncoder(w).Encode(&shown); err != nil {
		return err
	}
	return w.Flush()
}
