package preflight

import (
	"context"
	"fmt"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/authz/session"

	"github.com/maintgate/maintgate/config"
)

// djangoKey checks secret_key_file against the newest sessions of the
// application's database: a wrong key (or SECRET_KEY copied with its
// quotes) makes every session a "bad signature" while the map runs.
// Signed cookies keep no sessions in the database: nothing to check.
func (c *checker) djangoKey(ctx context.Context, s *session.Checker) {
	sc := c.cfg.Session
	if s == nil || sc.Store != session.StoreDjango || sc.SecretKeyFile == "" {
		return
	}
	where := c.at(config.LineOf(c.data, toml.Key{"session", "secret_key_file"}), "session.secret_key_file")
	k, err := s.VerifyKey(ctx, KeySessions)
	if err != nil {
		c.problem(where, fmt.Sprintf("cannot check the key against the sessions: %v", err))
		return
	}
	readable := k.Sessions - k.Unreadable
	switch {
	case k.Failed() && k.Verified == 0:
		c.problem(where, fmt.Sprintf("none of the %d newest sessions of %s verify with %s; %s",
			readable, sc.SessionTable, sc.SecretKeyFile, k.Hint))
	case k.Failed():
		c.problem(where, fmt.Sprintf("%d of the %d newest sessions of %s verify with %s (%d with its first line, SECRET_KEY); %s",
			k.Verified, readable, sc.SessionTable, sc.SecretKeyFile, k.Current, k.Hint))
	case readable == 0:
		c.r.Notes = append(c.r.Notes, fmt.Sprintf("session key: no sessions in %s to check %s against (nobody has logged in yet)",
			sc.SessionTable, sc.SecretKeyFile))
	case k.Verified < readable:
		c.r.Notes = append(c.r.Notes, fmt.Sprintf("session key: %d of the %d newest sessions of %s verify with %s",
			k.Verified, readable, sc.SessionTable, sc.SecretKeyFile))
		c.r.Warnings = append(c.r.Warnings, fmt.Sprintf(
			"%s: %d of the %d newest sessions of %s were signed with a key the file does not hold; Django refuses them too, unless that key is in SECRET_KEY_FALLBACKS: then add it to the file after SECRET_KEY",
			where, readable-k.Verified, readable, sc.SessionTable))
	default:
		c.r.Notes = append(c.r.Notes, fmt.Sprintf("session key: the %d newest sessions of %s verify with %s",
			readable, sc.SessionTable, sc.SecretKeyFile))
	}
}
