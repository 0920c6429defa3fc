package fleet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/config"
)

// Mirror is what `maintgate map` runs beside its answer loop: it
// subscribes to KEY:events, rereads every key at each event, right after
// each (re)connection and every [fleet] resync, and writes what Redis
// holds into the local flag files (Apply). The map's watcher sees those
// files change (inotify) and the answers follow; the answer loop itself
// never waits on Redis.
//
// Redis unreachable: the files stay as they are (the last known state),
// the mirror retries with a growing pause and logs the outage once.
// Redis reachable but without KEY:written: the files stay as they are
// too, and an ERROR is logged at each sync until an on/off writes again.
type Mirror struct {
	conn   *conn
	sites  []Site
	names  []string
	resync time.Duration
	log    *zerolog.Logger
	path   string // the link file
	link   Link
	saved  Link // the link as last written
	// outage is true from the first failure until Redis answers again;
	// only its start is logged.
	outage     bool
	linkWarned bool
	// silent are the sites kept on while Redis says nothing of them,
	// each logged once (keptSilent).
	silent map[string]bool
	// refused is true while Redis refuses the subscription to
	// KEY:events; only its start is logged.
	refused bool
	config  *configWatch
	// BackoffMin and BackoffMax bound the pause between reconnection
	// attempts; NewMirror sets them from resync.
	BackoffMin, BackoffMax time.Duration
}

// NewMirror makes the mirror of cfg's sites and [fleet], logging to log.
func NewMirror(cfg *config.Config, log *zerolog.Logger) (*Mirror, error) {
	c, err := dial(cfg.Fleet)
	if err != nil {
		return nil, err
	}
	m := &Mirror{conn: c, sites: SitesOf(cfg), resync: cfg.Fleet.Resync.Duration, log: log, path: LinkPath(cfg)}
	for _, s := range m.sites {
		m.names = append(m.names, s.Name)
	}
	m.config = newConfigWatch(cfg, m.sites)
	m.link = Link{PID: os.Getpid(), Redis: c.shown, Key: cfg.Fleet.Key, Since: time.Now()}
	// The pause grows to half a resync at most (5 s at most), so a host
	// is back in step within a resync of Redis's return.
	m.BackoffMin, m.BackoffMax = 100*time.Millisecond, min(5*time.Second, m.resync/2)
	return m, nil
}

// Run follows Redis until ctx ends, then closes its connections.
func (m *Mirror) Run(ctx context.Context) {
	defer m.conn.Close()
	f := newFollower(ctx, m.conn.c, m.conn.keys.Events())
	defer f.close()
	m.log.Info().Str("redis", m.conn.shown).Str("key", m.conn.keys.Prefix).Stringer("resync", m.resync).
		Str("link", m.path).Msg("fleet: following Redis; the local flag files mirror it")
	backoff := m.BackoffMin
	// The first sync comes with the subscription's confirmation (a
	// connection), or its failure is the outage's first log line.
	next := time.Now().Add(m.resync)
	for ctx.Err() == nil {
		wait := time.Until(next)
		if wait <= 0 {
			m.config.check(m.log)
			if m.sync(ctx, "resync") {
				// Checks the subscription's connection too: a dead or
				// silent one is dropped and made again.
				f.check(ctx, m.refused)
			}
			next = time.Now().Add(m.resync)
			continue
		}
		msg, err := f.receive(ctx, wait)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			backoff = m.BackoffMin
			m.receive(ctx, msg)
		case f.idle(err):
		case isRefusal(err):
			// The reply to a (re)subscription: the connection is new
			// (or the resync's retry), so every key is read now.
			m.refuse(err)
			m.sync(ctx, "connected")
		default:
			silent := isTimeout(err)
			if silent {
				// Hung, or half-open: go-redis would wait on this
				// connection for ever; a new one is made after the pause.
				err = fmt.Errorf("%w: %w", errNoAnswer, err)
				f.close()
			}
			m.down(m.conn.fail("follow "+m.conn.keys.Events(), err))
			sleep(ctx, backoff+rand.N(backoff/2+1))
			backoff = min(2*backoff, m.BackoffMax)
			if silent && ctx.Err() == nil {
				f.open(ctx)
			}
		}
	}
}

// receive handles one message of the subscription: a (re)subscription
// means a new connection, and events may have been missed; an event
// means a change. Either way every key is read again.
func (m *Mirror) receive(ctx context.Context, msg any) {
	switch msg := msg.(type) {
	case *redis.Subscription:
		if msg.Kind == "subscribe" {
			m.subscribed()
		}
		m.sync(ctx, "connected")
	case *redis.Message:
		why := "event"
		if e, ok := ParseEvent(msg.Payload); ok {
			why = "event " + e.String()
		}
		m.sync(ctx, why)
	}
}

// sync reads every key and applies it; false when Redis did not answer.
func (m *Mirror) sync(ctx context.Context, why string) bool {
	rctx, cancel := context.WithTimeout(ctx, dialTimeout+ioTimeout)
	snap, err := m.conn.read(rctx, m.names)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			m.down(err)
		}
		return false
	}
	m.up()
	now := time.Now()
	m.link.LastSync, m.link.Written = now, snap.Written
	if snap.Written == "" {
		m.link.KeysLost = true
		m.writeLink(true)
		m.log.Error().Str("redis", m.conn.shown).Str("missing", m.conn.keys.Written()).
			Msg("fleet: Redis answers but holds none of maintgate's keys (restarted without its data, or flushed): that is no order to reopen; this host keeps its flag files as they are until the next maintgate on/off")
		return true
	}
	m.link.KeysLost = false
	changes, kept, err := Apply(m.sites, snap)
	m.keptSilent(kept)
	for _, c := range changes {
		state := "off"
		if c.On {
			state = "on"
		}
		m.log.Info().Str("site", c.Site).Str("state", state).Str("cause", why).Msg("fleet: flag file set from Redis")
	}
	if err != nil {
		m.link.LastError, m.link.ErrorAt = err.Error(), now
		m.log.Error().Err(err).Msg("fleet: cannot write a flag file as Redis says; this host may differ from the fleet (the map must be able to write the flag files' directory)")
	}
	m.writeLink(!strings.HasPrefix(why, "event"))
	return true
}

// refuse records that Redis answered the subscription with an error
// (an ACL without &KEY:events: NOPERM): reads work, so the link is up,
// but no event arrives and changes reach this host only at each resync.
// Logged once until the subscription is accepted; asked again at each
// resync.
func (m *Mirror) refuse(err error) {
	err = m.conn.fail("subscribe to "+m.conn.keys.Events(), err)
	m.link.Events = "refused: " + err.Error()
	if !m.refused {
		m.refused = true
		m.log.Error().Err(err).Stringer("resync", m.resync).
			Msg("fleet: Redis refuses the subscription to the events channel (an ACL without it?): changes reach this host only at each resync; asking again at each resync")
	}
}

// subscribed records that the subscription to KEY:events is accepted.
func (m *Mirror) subscribed() {
	if m.refused {
		m.log.Info().Str("channel", m.conn.keys.Events()).Msg("fleet: Redis accepts the subscription to the events channel again")
	}
	m.refused = false
	m.link.Events = "subscribed"
}

// keptSilent logs, once per site until the fleet writes it again, each
// site whose flag this host keeps on because Redis holds neither its key
// nor its KEY:written:SITE marker, and lists them in the link file.
func (m *Mirror) keptSilent(kept []string) {
	for _, site := range kept {
		if m.silent[site] {
			continue
		}
		if m.silent == nil {
			m.silent = map[string]bool{}
		}
		m.silent[site] = true
		m.log.Error().Str("redis", m.conn.shown).Str("site", site).Str("missing", m.conn.keys.SiteWritten(site)).
			Msg("fleet: Redis holds no flag and no marker for this site (flushed since, or never switched fleet-wide): that is no order to reopen; this host keeps the site's flag file until the next maintgate on/off of it")
	}
	for site := range m.silent {
		if !slices.Contains(kept, site) {
			delete(m.silent, site)
		}
	}
	m.link.Kept = strings.Join(kept, ",")
}

// down records a failure to reach Redis; only the first of an outage is
// logged.
func (m *Mirror) down(err error) {
	now := time.Now()
	m.link.LastError, m.link.ErrorAt = err.Error(), now
	if !m.outage {
		m.outage = true
		m.log.Error().Err(err).Msg("fleet: Redis unreachable: this host keeps its last known state and answers from it; retrying with backoff (logged once per outage)")
	}
	if m.link.Connected {
		m.link.Connected, m.link.Since = false, now
	}
	m.writeLink(false)
}

// up records that Redis answered.
func (m *Mirror) up() {
	if m.link.Connected {
		return
	}
	now := time.Now()
	if m.outage {
		m.log.Info().Str("redis", m.conn.shown).Stringer("down_for", now.Sub(m.link.Since).Round(time.Millisecond)).
			Msg("fleet: Redis reachable again; resyncing")
	}
	m.outage = false
	m.link.Connected, m.link.Since = true, now
}

// writeLink writes the link file when it says something new, or, with
// always, to bring last_sync up to date. An event's sync passes false:
// the file's rename was most of a mirror's work for a change, on the
// host's busiest moment, so its last_sync and written wait for the next
// resync (status's "last sync" is at most a resync old).
func (m *Mirror) writeLink(always bool) {
	was := m.saved
	was.LastSync, was.Written = m.link.LastSync, m.link.Written
	if !always && was == m.link {
		return
	}
	err := WriteLink(m.path, m.link)
	if err == nil {
		m.saved = m.link
	}
	if err != nil && !m.linkWarned {
		m.linkWarned = true
		m.log.Warn().Err(err).Msg("fleet: cannot write the link status file; maintgate status will not show the fleet link")
	}
}

// isRefusal: err is Redis's error reply, not a failure to reach it.
func isRefusal(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
