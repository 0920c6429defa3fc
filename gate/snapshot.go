package gate

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/session"
	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/whitelist"
)

// build makes a snapshot from cfg. prev, if any, lends its session checker
// when the session settings did not change, so the cache survives reloads.
// A file that cannot be loaded (whitelist file, key file, secret file,
// session store) fails the build; a bad entry is skipped with a warning.
func (g *Gate) build(cfg *config.Config, prev *Snapshot) (*Snapshot, error) {
	s := &Snapshot{Config: cfg, Loaded: g.now()}
	var r loadReport
	wl := loadWhitelist(cfg, &r)
	trusted, probs := whitelist.New(cfg.TrustedProxies, cfg.Path, "trusted_proxies")
	// A skipped trusted proxy only makes X-Forwarded-For count less: safe
	// to skip, like a bad whitelist line.
	r.skipped(probs)
	key := loadKey(cfg, &r)
	s.Policy = &authz.Policy{
		AllowPaths:     withPage(cfg.AllowPaths, cfg.MaintenancePage),
		AdminPaths:     cfg.AdminPaths,
		AllowAdmin:     cfg.AllowAdminDuringMaintenance,
		Whitelist:      wl,
		TrustedProxies: trusted,
		TokenCookie:    cfg.Token.Cookie,
		TokenKey:       key,
		SessionCookie:  cfg.Session.Cookie,
		OnError:        cfg.OnError == "allow",
		Languages:      authz.NewLanguages(cfg.Languages),
		ServletPaths:   cfg.BackendPaths == "servlet",
	}
	buildSites(s, prev, &r)
	if len(r.problems) > 0 {
		return nil, &config.Error{Problems: r.problems}
	}
	if cfg.Session.Store != "none" {
		if prev != nil && prev.Sessions != nil && prev.Config.Session.Equal(cfg.Session) && !g.changed(cfg.Session.SecretKeyFile) {
			s.Sessions = prev.Sessions
		} else {
			c, w, err := openSessions(cfg, g.Logger, g.opts.SessionWait)
			if err != nil {
				return nil, err
			}
			if w != "" {
				r.warn(w)
			}
			s.Sessions = c
		}
	}
	s.Warnings = r.warnings
	return s, nil
}

// loadReport gathers what a build skipped (warnings, logged) and what it
// could not load (problems, which fail it).
type loadReport struct {
	warnings []string
	problems []string
}

func (r *loadReport) warn(msg string) { r.warnings = append(r.warnings, msg) }

func (r *loadReport) fail(err error) { r.problems = append(r.problems, err.Error()) }

func (r *loadReport) skipped(probs []whitelist.Problem) {
	for _, p := range probs {
		r.warn(p.Error())
	}
}

// loadWhitelist is the config's whitelist and, when one is named, the
// whitelist file's, merged.
func loadWhitelist(cfg *config.Config, r *loadReport) *whitelist.List {
	wl, probs := whitelist.New(cfg.Whitelist, cfg.Path, "whitelist")
	r.skipped(probs)
	if cfg.WhitelistFile == "" {
		return wl
	}
	fl, probs, err := whitelist.Load(cfg.WhitelistFile)
	if err != nil {
		r.fail(err)
	}
	r.skipped(probs)
	return whitelist.Merge(wl, fl)
}

// loadKey reads the token key, nil when tokens are off, and warns when the
// key file's mode lets other users read it.
func loadKey(cfg *config.Config, r *loadReport) []byte {
	if cfg.Token.KeyFile == "" {
		return nil
	}
	key, err := token.LoadKey(cfg.Token.KeyFile)
	if err != nil {
		r.fail(err)
	}
	if err := token.CheckMode(cfg.Token.KeyFile); err != nil {
		r.warn(err.Error())
	}
	return key
}

// openSessions opens the session checker cfg describes; wait, when set,
// is the longest a lookup is waited for in place of lookup_timeout.
func openSessions(cfg *config.Config, logger func() *zerolog.Logger, wait time.Duration) (*session.Checker, string, error) {
	sc := cfg.Session
	o := session.Options{
		Store:            sc.Store,
		Database:         sc.Database,
		SessionTable:     sc.SessionTable,
		UserTable:        sc.UserTable,
		Allow:            sc.Allow,
		GroupTable:       sc.GroupTable,
		UserGroupsTable:  sc.UserGroupsTable,
		CacheSize:        sc.CacheSize,
		CacheTTL:         sc.CacheTTL.Duration,
		NegativeTTL:      sc.NegativeTTL.Duration,
		LookupTimeout:    sc.LookupTimeout.Duration,
		MissRate:         sc.MissRate,
		MaxConns:         sc.MaxConns,
		SessionCookieAge: sc.CookieAge.Duration,
	}
	if wait > 0 {
		o.LookupTimeout = wait
	}
	var warning string
	if sc.SecretKeyFile != "" {
		var err error
		if o.Secrets, err = session.LoadSecrets(sc.SecretKeyFile); err != nil {
			return nil, "", err
		}
	} else {
		warning = "session.secret_key_file is not set: session data is trusted as the database holds it, without checking Django's signature or the password hash"
	}
	loc, err := time.LoadLocation(sc.TimeZone)
	if err != nil {
		return nil, "", fmt.Errorf("session.time_zone: %w", err)
	}
	o.Location = loc
	// The logger in force at each line, not the one of today: a reload
	// that changes [log] closes the old one.
	o.Logger = logger
	c, err := session.Open(context.Background(), o)
	if err != nil {
		return nil, "", fmt.Errorf("session store: %w", err)
	}
	return c, warning, nil
}

// LogWarnings writes the snapshot's warnings to the log.
func (g *Gate) LogWarnings(s *Snapshot) {
	for _, w := range s.Warnings {
		g.Logger().Warn().Msg(w)
	}
}
