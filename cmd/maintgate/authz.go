package main

import (
	"context"
	"os/signal"
	"syscall"
	"time"

	"github.com/maintgate/maintgate/authz/extauth"
	"github.com/maintgate/maintgate/authz/lockout"
	"github.com/maintgate/maintgate/authz/session/settings"
	"github.com/maintgate/maintgate/gate"
)

// runAuthz is the checker for mod_authnz_external (DefineExternalAuth …
// pipe or environment): it wires the gate to package extauth, which
// decides. The module forks it per request and reads only the exit status:
// 0 lets the request through, 1 denies it.
func runAuthz(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "authz")
	if err := parse(fs, args); err != nil {
		return err
	}
	// mod_authnz_external waits for us (APR_WAIT) and never means to stop
	// us, but it registers each checker with a pool for "kill after
	// timeout" by the address of a stack variable: a cleanup of that pool
	// can SIGTERM whatever pid that memory holds by then, which under load
	// was a checker still at work (Apache logged "External authenticator
	// died on signal 15" and answered 401 to a whitelisted address). We
	// finish in milliseconds; a real stop still has SIGKILL 3 s later.
	signal.Ignore(syscall.SIGTERM)
	req := extauth.ReadRequest(e.getenv, e.stdin)
	// The module waits for this process alone, not the whole server: a
	// session lookup on a database opened cold may take the query timeout.
	g, err := gate.Open(gate.Options{ConfigPath: *cfgPath, SessionWait: settings.QueryTimeout})
	if err != nil {
		return err
	}
	defer g.Close()
	s := g.Snapshot()
	c := extauth.Checker{
		Decide:   g.DecideSite,
		Failures: lockout.New(extauth.RecordDir(s.Config.FlagFile)),
		Log:      g.Logger(),
		Now:      time.Now,
	}
	if s.Sessions != nil && s.Config.AllowAdminDuringMaintenance {
		c.Password = s.Sessions.CheckPassword
	}
	if !c.Allow(ctx, req) {
		return &exitError{code: 1}
	}
	return nil
}
