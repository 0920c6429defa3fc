package gate

import (
	"net/netip"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/rewritemap"
)

type logKind uint8

const (
	logNone logKind = iota
	logDecision
	logUnreadable
)

type pendingLog struct {
	kind       logKind
	key        rewritemap.Key
	d          authz.Decision
	why        string
	size       int
	answer     string
	suppressed int
	site       *Site // the site decided, for logDecision
}

// After implements rewritemap.Afterer: it logs the answer just sent.
func (g *Gate) After() {
	p := g.pending
	g.pending = pendingLog{}
	if g.pendingSite != "" {
		g.logUnknownSite(g.pendingSite)
		g.pendingSite = ""
	}
	switch p.kind {
	case logDecision:
		g.logDecision(p.key, p.d, p.site)
	case logUnreadable:
		ev := g.Logger().Warn().Str("problem", p.why).Int("bytes", p.size)
		if p.suppressed > 0 {
			ev = ev.Int("suppressed", p.suppressed)
		}
		ev.Str("answer", p.answer).Msg("unreadable request line; answered with on_error")
	}
}

// logPath bounds what one log line carries of a request path.
const logPath = 512

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// logUnknownSite warns about a key line naming a site the configuration
// does not define (at most once a minute per name, see unknownSites).
func (g *Gate) logUnknownSite(name string) {
	ev := g.Logger().Warn()
	if name == otherNames {
		ev.Int("names", unknownKeep).Msg("key lines name more unknown sites than are tracked; each decided as site default; check MAINTGATE_SITE in the vhosts")
		return
	}
	cfg := g.snap.Load().Config
	ev.Str("site", name).Str("config", cfg.Path).Strs("sites", cfg.SiteNames()).
		Msg("key line names a site the configuration does not define; decided as site default; fix MAINTGATE_SITE in its vhost or add the site to the configuration")
}

func (g *Gate) logDecision(k rewritemap.Key, d authz.Decision, st *Site) {
	lg := g.Logger()
	if !d.Allow {
		ev := lg.Info()
		if ev == nil {
			return
		}
		if st != nil && st.Name != config.DefaultSite {
			ev = ev.Str("site", st.Name)
		}
		ev = ev.Stringer("ip", clientOr(d, k)).Str("path", trunc(k.Path, logPath))
		if d.Detail != "" {
			ev = ev.Str("detail", d.Detail)
		}
		ev.Msg("redirecting to maintenance page")
		return
	}
	ev := lg.Debug()
	if ev == nil {
		return
	}
	if st != nil && st.Name != config.DefaultSite {
		ev = ev.Str("site", st.Name)
	}
	ev = ev.Str("reason", d.Reason.String()).Stringer("ip", clientOr(d, k)).Str("path", trunc(k.Path, logPath))
	if d.UserID != "" {
		ev = ev.Str("user_id", d.UserID)
	}
	if d.Detail != "" {
		ev = ev.Str("detail", d.Detail)
	}
	ev.Msg("allowing during maintenance")
}

// clientOr is the address the decision matched (X-Forwarded-For walked),
// or the peer when it matched none.
func clientOr(d authz.Decision, k rewritemap.Key) netip.Addr {
	if d.Client.IsValid() {
		return d.Client
	}
	return k.Peer
}

// limiter lets through a few lines per second and counts the rest, so a
// flood of bad lines cannot fill the disk. Used from the answer path only.
type limiter struct {
	sec        int64
	n          int
	suppressed int
}

const perSecond = 10

func (l *limiter) allow(now time.Time) bool {
	s := now.Unix()
	if s != l.sec {
		l.sec, l.n = s, 0
	}
	if l.n < perSecond {
		l.n++
		return true
	}
	l.suppressed++
	return false
}

func (l *limiter) takeSuppressed() int {
	n := l.suppressed
	l.suppressed = 0
	return n
}
