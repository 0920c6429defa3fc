package fleet

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maintgate/maintgate/config"
)

// Store is the fleet as on/off, the panel and `status --fleet` see it:
// it implements control.Remote. Each change is one MULTI/EXEC: the flag
// key, the KEY:written marker and the event go together or not at all.
type Store struct {
	*conn
	Now func() time.Time // nil: time.Now
}

// Open makes the store of cfg's [fleet]; it connects at the first call.
func Open(f config.Fleet) (*Store, error) {
	c, err := dial(f)
	if err != nil {
		return nil, err
	}
	return &Store{conn: c}, nil
}

// URL is the Redis URL without its password, for messages.
func (s *Store) URL() string { return s.shown }

// Ping checks that Redis answers, so that a change fails before its
// first write rather than between two sites' writes.
func (s *Store) Ping(ctx context.Context) error {
	return s.fail("ping", s.c.Ping(ctx).Err())
}

func (s *Store) stamp() string {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().UTC().Format(time.RFC3339Nano)
}

// Put stores site's flag bytes for every host, marks the keys written
// and tells the maps.
func (s *Store) Put(ctx context.Context, site string, flag []byte) error {
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.keys.Flag(site), flag, 0)
		p.Set(ctx, s.keys.Written(), s.stamp(), 0)
		p.Publish(ctx, s.keys.Events(), Event{Action: "on", Site: site}.String())
		return nil
	})
	return s.fail("switch "+site+" on for the fleet", err)
}

// Delete switches site off for every host: its key goes, the keys are
// marked written (an empty Redis that was written says off; one never
// written says nothing) and the maps are told.
func (s *Store) Delete(ctx context.Context, site string) error {
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.Flag(site))
		p.Set(ctx, s.keys.Written(), s.stamp(), 0)
		p.Publish(ctx, s.keys.Events(), Event{Action: "off", Site: site}.String())
		return nil
	})
	return s.fail("switch "+site+" off for the fleet", err)
}

// Snapshot is what Redis holds at one moment.
type Snapshot struct {
	// Written is KEY:written, "" when Redis holds none: it lost
	// maintgate's keys (or no on/off ever ran with the fleet).
	Written string
	// Flags are the flag bytes of each site whose key exists.
	Flags map[string][]byte
}

// read is one MGET of the marker and the sites' keys: one round trip,
// and one moment (Redis runs a command whole).
func (c *conn) read(ctx context.Context, sites []string) (Snapshot, error) {
	keys := make([]string, 0, 1+len(sites))
	keys = append(keys, c.keys.Written())
	for _, s := range sites {
		keys = append(keys, c.keys.Flag(s))
	}
	vals, err := c.c.MGet(ctx, keys...).Result()
	if err != nil {
		return Snapshot{}, c.fail("read the switches", err)
	}
	snap := Snapshot{Flags: map[string][]byte{}}
	if w, ok := vals[0].(string); ok {
		snap.Written = w
	}
	for i, s := range sites {
		if v, ok := vals[1+i].(string); ok {
			snap.Flags[s] = []byte(v)
		}
	}
	return snap, nil
}

// List is every site Redis holds a flag for, configured here or not,
// for `status --fleet`; sites are sorted.
func (s *Store) List(ctx context.Context) (Snapshot, []string, error) {
	prefix := s.keys.Flag("")
	var sites []string
	iter := s.c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		sites = append(sites, strings.TrimPrefix(iter.Val(), prefix))
	}
	if err := iter.Err(); err != nil {
		return Snapshot{}, nil, s.fail("list the switches", err)
	}
	sort.Strings(sites)
	snap, err := s.read(ctx, sites)
	return snap, sites, err
}

// Event is what on/off publish on KEY:events: "on SITE" or "off SITE".
// A map rereads every key on any event, so the text is for its log.
type Event struct{ Action, Site string }

func (e Event) String() string { return e.Action + " " + e.Site }

// ParseEvent reads an event; ok is false for anything else (another
// program's message on the channel is read as a plain "resync").
func ParseEvent(s string) (e Event, ok bool) {
	a, site, found := strings.Cut(s, " ")
	if !found || (a != "on" && a != "off") || site == "" || strings.ContainsAny(site, " \t\r\n") || len(site) > 200 {
		return Event{}, false
	}
	return Event{Action: a, Site: site}, true
}

// WrittenTime is KEY:written as a time, for messages; the zero time
// when it is not one of ours.
func WrittenTime(w string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, w)
	if err != nil {
		return time.Time{}
	}
	return t
}
