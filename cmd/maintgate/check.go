package main

import (
	"context"
	"fmt"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/explain"
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
		src := "database"
		if d.SessionCached {
			src = "cache"
		}
		fmt.Fprintf(e.stdout, "  session verdict from the %s\n", src)
	}
	if !d.Allow {
		return &exitError{code: 1}
	}
	return nil
}
