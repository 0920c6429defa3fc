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
func (g *Gate) build(cfg *config.Config, prev *Snapshot) (*Snapshot, error) {
	s := &Snapshot{Config: cfg, Loaded: g.now()}
	var problems []string
	warn := func(msg string) { s.Warnings = append(s.Warnings, msg) }

	wl, probs := whitelist.New(cfg.Whitelist, cfg.Path, "whitelist")
	for _, p := range probs {
		warn(p.Error())
	}
	if cfg.WhitelistFile != "" {
		fl, probs, err := whitelist.Load(cfg.WhitelistFile)
		if err != nil {
			problems = append(problems, err.Error())
		}
		for _, p := range probs {
			warn(p.Error())
		}
		wl = whitelist.Merge(wl, fl)
	}
	trusted, probs := whitelist.New(cfg.TrustedProxies, cfg.Path, "trusted_proxies")
	for _, p := range probs {
		// A skipped trusted proxy only makes X-Forwarded-For count less:
		// safe to skip, like a bad whitelist line.
		warn(p.Error())
	}
	var key []byte
	if cfg.Token.KeyFile != "" {
		k, err := token.LoadKey(cfg.Token.KeyFile)
		if err != nil {
			problems = append(problems, err.Error())
		}
		key = k
		if err := token.CheckMode(cfg.Token.KeyFile); err != nil {
			warn(err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, &config.Error{Problems: problems}
	}
	s.Policy = &authz.Policy{
		AllowPaths:     cfg.AllowPaths,
		AdminPaths:     cfg.AdminPaths,
		AllowAdmin:     cfg.AllowAdminDuringMaintenance,
		Whitelist:      wl,
		TrustedProxies: trusted,
		TokenCookie:    cfg.Token.Cookie,
		TokenKey:       key,
		SessionCookie:  cfg.Session.Cookie,
		OnError:        cfg.OnError == "allow",
	}
	if cfg.Session.Store != "none" {
		if prev != nil && prev.Sessions != nil && prev.Config.Session == cfg.Session && !g.changed(cfg.Session.SecretKeyFile) {
			s.Sessions = prev.Sessions
		} else {
			c, w, err := openSessions(cfg, g.Logger)
			if err != nil {
				return nil, err
			}
			if w != "" {
				warn(w)
			}
			s.Sessions = c
		}
	}
	return s, nil
}

func openSessions(cfg *config.Config, logger func() *zerolog.Logger) (*session.Checker, string, error) {
	sc := cfg.Session
	o := session.Options{
		Store:            sc.Store,
		Database:         sc.Database,
		SessionTable:     sc.SessionTable,
		UserTable:        sc.UserTable,
		CacheSize:        sc.CacheSize,
		CacheTTL:         sc.CacheTTL.Duration,
		NegativeTTL:      sc.NegativeTTL.Duration,
		LookupTimeout:    sc.LookupTimeout.Duration,
		MissRate:         sc.MissRate,
		MaxConns:         sc.MaxConns,
		SessionCookieAge: sc.CookieAge.Duration,
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
