// Package extauth is the decision of `maintgate authz`, the checker that
// mod_authnz_external forks for every request to the location it guards
// (apache-conf/maintgate-authz.conf). The module reads only the exit
// status. A request passes when the map would let it through anyway, or
// when it carries the user name and password of an active Django
// superuser, verified no more often than package lockout allows: each
// guess costs a PBKDF2 derivation (about 87 ms) and skips the
// application's own lockout, so it must not be free.
package extauth

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/lockout"
	"github.com/maintgate/maintgate/rewritemap"
)

// Request is what the module tells the checker about one request.
type Request struct {
	AuthType string // AUTHTYPE: "PASS", or "GROUP" for GroupExternal
	IP       string // the client address
	URI      string // the path, decoded, without the query string
	Cookie   string // the raw Cookie header
	Site     string // CONTEXT (AuthExternalContext): the vhost's site; "" is default
	User     string
	Password string
}

// ReadRequest reads the module's environment and, in the pipe method, the
// user name and password from stdin, one a line. The environment method
// passes them as USER and PASS instead.
func ReadRequest(getenv func(string) string, stdin io.Reader) Request {
	r := Request{
		AuthType: getenv("AUTHTYPE"), IP: getenv("IP"), URI: getenv("URI"), Cookie: getenv("COOKIE"), Site: getenv("CONTEXT"),
		User: getenv("USER"), Password: getenv("PASS"),
	}
	if r.AuthType == "PASS" && r.Password == "" && stdin != nil {
		// Bounded, so a bad writer cannot hang us on an endless line.
		br := bufio.NewReader(io.LimitReader(stdin, 8192))
		line := func() string {
			s, _ := br.ReadString('\n')
			return strings.TrimRight(s, "\r\n")
		}
		r.User = line()
		r.Password = line()
	}
	return r
}

// RecordDir is where the failure record lives: the directory "authz"
// beside the flag file (/var/lib/maintgate/authz). The checker runs as
// Apache's User, so that directory must be writable by it, unlike the
// flag file's own directory.
func RecordDir(flagFile string) string {
	return filepath.Join(filepath.Dir(flagFile), "authz")
}

// Checker answers requests. Its fields are the edges a test may swap.
type Checker struct {
	// Decide is the map's decision for a site (gate.Gate.DecideSite): a
	// site down while the server-wide switch is off must not open to
	// whoever asks the checker.
	Decide func(site string, r authz.Request) authz.Decision
	// Password verifies credentials against the application's users; nil
	// when password sign-in is off (no session store, or
	// allow_admin_during_maintenance false). An error means the password
	// could not be verified (the database did not answer).
	Password func(ctx context.Context, user, password string) (authz.Verdict, error)
	// Failures limits password guesses.
	Failures *lockout.Record
	Log      *zerolog.Logger
	Now      func() time.Time
}

// Allow says whether r may pass, and logs why exactly once: DEBUG when it
// passes, INFO when it is refused, WARNING when the checker is used in a
// way it does not support or a lockout refused the password unverified,
// ERROR when the failure record is unusable. A password is never logged.
func (c *Checker) Allow(ctx context.Context, r Request) bool {
	if r.AuthType == "GROUP" {
		c.Log.Warn().Msg("authz: group checks (GroupExternal) are not supported; denied")
		return false
	}
	peer, err := rewritemap.ParseAddr(r.IP) // the map's own reading of an address
	if err != nil {
		c.Log.Warn().Str("ip", r.IP).Msg("authz: IP variable missing or not an address; denied")
		return false
	}
	d := c.Decide(r.Site, authz.Request{Peer: peer, Path: r.URI, Cookie: r.Cookie})
	if d.Allow {
		c.Log.Debug().Str("reason", d.Reason.String()).Str("site", r.Site).Stringer("ip", peer).Str("path", r.URI).Msg("authz: allowed")
		return true
	}
	if r.User != "" && r.Password != "" && c.Password != nil {
		return c.allowPassword(ctx, r, peer)
	}
	c.Log.Info().Stringer("ip", peer).Str("path", r.URI).Str("detail", d.Detail).Msg("authz: denied during maintenance")
	return false
}

// allowPassword lets r through when its credentials are a superuser's and
// the failure record allows one more attempt for its user name and
// address.
func (c *Checker) allowPassword(ctx context.Context, r Request, peer netip.Addr) bool {
	at, err := c.Failures.Begin(r.User, peer, c.Now())
	var le *lockout.LockedError
	switch {
	case errors.As(err, &le):
		c.Log.Warn().Str("user", r.User).Stringer("ip", peer).Str("path", r.URI).Str("detail", le.Error()).
			Msg("authz: too many failed passwords; refused without checking the password")
		return false
	case err != nil:
		c.Log.Error().Err(err).Str("user", r.User).Stringer("ip", peer).Str("path", r.URI).
			Msgf("authz: password sign-in refused: the failure record is unusable; make %s a directory writable by the user Apache runs the checker as (install -d -o www-data -m 700 %[1]s)", c.Failures.Dir())
		return false
	}
	v, err := c.Password(ctx, r.User, r.Password)
	if err == nil && v.Pass {
		if err := at.Succeeded(); err != nil {
			c.Log.Error().Err(err).Msg("authz: cannot clear the user name's failures")
		}
		c.Log.Debug().Str("reason", "credentials: "+v.Reason).Str("user_id", v.UserID).Stringer("ip", peer).Str("path", r.URI).Msg("authz: allowed")
		return true
	}
	detail := v.Reason
	if err != nil {
		// Nothing was verified, so nothing was guessed.
		if verr := at.Void(); verr != nil {
			c.Log.Error().Err(verr).Msg("authz: cannot take back an unverified attempt")
		}
		detail = err.Error()
	}
	c.Log.Info().Str("user", r.User).Str("detail", detail).Stringer("ip", peer).Str("path", r.URI).Msg("authz: credentials refused")
	return false
}
