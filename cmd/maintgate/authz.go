package main

import (
	"bufio"
	"context"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/gate"
)

// runAuthz is a checker for mod_authnz_external (DefineExternalAuth … pipe
// or environment). The module forks it per request and reads only the exit
// status: 0 lets the request through, anything else denies it.
//
// It gives the map's answer for the request the module describes (IP, URI,
// COOKIE), and also lets through the user name and password of an active
// Django superuser. X-Forwarded-For is not passed by the module, so only
// the peer address is matched against the whitelist.
func runAuthz(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "authz")
	if err := parse(fs, args); err != nil {
		return err
	}
	user, pass := e.getenv("USER"), e.getenv("PASS")
	if e.getenv("AUTHTYPE") == "PASS" && pass == "" {
		// pipe method: user and password on stdin, one a line.
		user, pass = readCredentials(e.stdin)
	}
	g, err := gate.Open(gate.Options{ConfigPath: *cfgPath})
	if err != nil {
		return err
	}
	defer g.Close()
	lg := g.Logger()
	if e.getenv("AUTHTYPE") == "GROUP" {
		lg.Warn().Msg("authz: group checks (GroupExternal) are not supported; denied")
		return &exitError{code: 1}
	}
	peer, err := netip.ParseAddr(e.getenv("IP"))
	if err != nil {
		lg.Warn().Str("ip", e.getenv("IP")).Msg("authz: IP variable missing or not an address; denied")
		return &exitError{code: 1}
	}
	uri := e.getenv("URI")
	d := g.Decide(authz.Request{Peer: peer.Unmap(), Path: uri, Cookie: e.getenv("COOKIE")})
	if d.Allow {
		lg.Debug().Str("reason", d.Reason.String()).Stringer("ip", peer).Str("path", uri).Msg("authz: allowed")
		return nil
	}
	if user != "" && pass != "" {
		if s := g.Snapshot().Sessions; s != nil && g.Snapshot().Config.AllowAdminDuringMaintenance {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			v, err := s.CheckPassword(pctx, user, pass)
			cancel()
			if err == nil && v.Superuser {
				lg.Debug().Str("reason", "superuser credentials").Str("user_id", v.UserID).Stringer("ip", peer).Str("path", uri).Msg("authz: allowed")
				return nil
			}
			why := v.Reason
			if err != nil {
				why = err.Error()
			}
			lg.Info().Str("user", user).Str("detail", why).Stringer("ip", peer).Str("path", uri).Msg("authz: credentials refused")
			return &exitError{code: 1}
		}
	}
	lg.Info().Stringer("ip", peer).Str("path", uri).Str("detail", d.Detail).Msg("authz: denied during maintenance")
	return &exitError{code: 1}
}

// readCredentials reads mod_authnz_external's pipe: the user name, then the
// password, each on its own line (bounded, so a bad writer cannot hang us
// on an endless line).
func readCredentials(r io.Reader) (user, pass string) {
	if r == nil {
		return "", ""
	}
	br := bufio.NewReader(io.LimitReader(r, 8192))
	line := func() string {
		s, _ := br.ReadString('\n')
		return strings.TrimRight(s, "\r\n")
	}
	user = line()
	pass = line()
	return user, pass
}
