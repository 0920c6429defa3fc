package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/explain"
	"github.com/maintgate/maintgate/authz/session"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/gate"
	"github.com/maintgate/maintgate/rewritemap"
)

// runCheck answers one request of a site as the map would and says why
// in a sentence. Exit 0 for allow, 1 for redirect.
func runCheck(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "check")
	site := fs.String("site", config.DefaultSite, "decide for the site `NAME`, as a key line naming it is decided")
	ip := fs.String("ip", "", "client `address` as Apache sees it (REMOTE_ADDR)")
	path := fs.String("path", "/", "request `path`")
	xff := fs.String("xff", "", "X-Forwarded-For `header`")
	cookie := fs.String("cookie", "", "Cookie `header`")
	if err := parse(fs, args); err != nil {
		return err
	}
	peer, err := rewritemap.ParseAddr(*ip) // the map's own reading of REMOTE_ADDR
	if err != nil {
		return usageError("check: --ip %q: %v", *ip, err)
	}
	// stdout is the answer and its reason, stderr the warnings: the gate's
	// DEBUG lines (one per session lookup) are for the map's log, not here.
	// The level is process-wide, so restored for in-process tests.
	defer zerolog.SetGlobalLevel(zerolog.GlobalLevel())
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	g, err := gate.Open(gate.Options{ConfigPath: *cfgPath})
	if err != nil {
		return err
	}
	defer g.Close()
	snap := g.Snapshot()
	// The map decides an unknown site as default; check refuses it, since
	// a typo here would answer for another site than the operator meant.
	if _, err := snap.Config.FlagFileOf(*site); err != nil {
		return usageError("check: %v", err)
	}
	for _, w := range snap.Warnings {
		warnf(e, "%s", w)
	}
	d := g.DecideSite(*site, authz.Request{Peer: peer.Unmap(), Path: *path, XFF: *xff, Cookie: *cookie})
	fmt.Fprintln(e.stdout, explain.Decision(d, authz.CleanPath(*path)))
	if d.SessionChecked {
		fmt.Fprintf(e.stdout, "  session verdict %s\n", sessionSource(d, snap.Config.Session.Store))
	}
	// Apache asks the map only while a site is in maintenance; a dead map
	// then answers nothing, which the shipped RewriteCond redirects.
	if d.Allow && d.Reason != authz.Inactive && len(mapProcesses(e.proc)) == 0 {
		warnf(e, "%s", noMapWarning(" (this one too, whatever the answer above)"))
	}
	if !d.Allow {
		return &exitError{code: 1}
	}
	return nil
}

// sessionSource says where a session verdict came from: the cache, the
// database, or no query at all, from the verdict's reason (the checker
// answers some misses without a query: authz/session, checker.go).
// Within one check the breaker is closed (nothing has failed yet in this
// process), so a "database …:" reason is a query that failed.
func sessionSource(d authz.Decision, store string) string {
	if d.SessionCached {
		return "from the cache"
	}
	// authz writes the verdict's reason as the detail of a pass, and after
	// "session: " in the detail of a redirect.
	reason := d.Detail
	if !d.Allow {
		if i := strings.LastIndex(reason, "session: "); i >= 0 {
			reason = reason[i+len("session: "):]
		}
	}
	switch reason {
	case session.ReasonNoCookie, session.ReasonNotKey:
		return "without a query: the cookie is not a session key"
	case session.ReasonPending:
		return "without a query: the database is slow; the lookup goes on in the background and fills the cache"
	case session.ReasonRateLimit:
		return "without a query: over the rate limit of lookups for new cookies (session.miss_rate)"
	case session.ReasonBusy:
		return "without a query: too many lookups in flight"
	case session.ReasonClosed:
		return "without a query: the session checker is closed"
	case session.ReasonTimeout:
		return "from the database: no answer within session.lookup_timeout"
	case session.ReasonBadSignature, session.ReasonExpired, session.ReasonMalformed, session.ReasonNotJSON:
		if store == session.StoreSignedCookies {
			return "without a query: the signed cookie itself was refused"
		}
	}
	return "from the database"
}
