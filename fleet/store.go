package fleet

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
)

// Store is the fleet as on/off, the panel and `status --fleet` see it:
// it implements control.Remote. Each change is one MULTI/EXEC: the flag
// keys, their markers, KEY:written and the event go together or not at all.
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

// Apply makes one change of the fleet: every site's flag key (set, or
// deleted for a nil Flag), its KEY:written:SITE marker, KEY:written and
// one event go in one MULTI/EXEC, so the fleet gets the whole change or
// none of it. It implements control.Remote. The flag keys of the changes
// that are Checked are WATCHed: if one no longer holds its Base (another
// change landed since on read it), nothing is written and the error is
// ErrChanged.
func (s *Store) Apply(ctx context.Context, changes []control.RemoteChange) error {
	if len(changes) == 0 {
		return nil
	}
	stamp := s.stamp()
	ev := eventOf(changes)
	op := "switch " + ev.Site + " " + ev.Action + " for the fleet"
	queue := func(p redis.Pipeliner) error {
		for _, ch := range changes {
			if ch.Flag == nil {
				p.Del(ctx, s.keys.Flag(ch.Site))
			} else {
				p.Set(ctx, s.keys.Flag(ch.Site), ch.Flag, 0)
			}
			p.Set(ctx, s.keys.SiteWritten(ch.Site), stamp, 0)
		}
		p.Set(ctx, s.keys.Written(), stamp, 0)
		p.Publish(ctx, s.keys.Events(), ev.String())
		return nil
	}
	var watched []string
	for _, ch := range changes {
		if ch.Checked {
			watched = append(watched, s.keys.Flag(ch.Site))
		}
	}
	if len(watched) == 0 {
		_, err := s.c.TxPipelined(ctx, queue)
		return s.fail(op, err)
	}
	err := s.c.Watch(ctx, func(tx *redis.Tx) error {
		vals, err := tx.MGet(ctx, watched...).Result()
		if err != nil {
			return err
		}
		i := 0
		for _, ch := range changes {
			if !ch.Checked {
				continue
			}
			v, ok := vals[i].(string)
			i++
			if ok != (ch.Base != nil) || v != string(ch.Base) {
				return ErrChanged
			}
		}
		_, err = tx.TxPipelined(ctx, queue)
		return err
	}, watched...)
	if errors.Is(err, redis.TxFailedErr) {
		err = ErrChanged
	}
	return s.fail(op, err)
}

// ErrChanged: a site's flag in Redis changed between on's read and its
// write (two operators at the same moment). Nothing was written: the
// later change would have dropped the fields of the earlier one.
// It is a control.ErrConflict, which the panel answers 409.
var ErrChanged error = changed{}

type changed struct{}

func (changed) Error() string {
	return "the fleet's flag changed since this change read it (another change at the same moment): nothing was changed on any host; run it again"
}

func (changed) Is(target error) bool { return target == control.ErrConflict }

// eventOf is the one event of a change: "on a,b", "off a", or "change a,b"
// when it mixes both (control never does).
func eventOf(changes []control.RemoteChange) Event {
	names := make([]string, 0, len(changes))
	on, off := 0, 0
	for _, ch := range changes {
		names = append(names, ch.Site)
		if ch.Flag == nil {
			off++
		} else {
			on++
		}
	}
	e := Event{Action: "change", Site: strings.Join(names, ",")}
	switch {
	case off == 0:
		e.Action = "on"
	case on == 0:
		e.Action = "off"
	}
	return e
}

// Flags is what Redis holds for each site named: its flag bytes, or no
// entry when its key is absent. It implements control.Remote: on builds
// each site's change on the fleet's flag, not this host's file.
func (s *Store) Flags(ctx context.Context, sites []string) (map[string][]byte, error) {
	snap, err := s.read(ctx, sites)
	if err != nil {
		return nil, err
	}
	return snap.Flags, nil
}

// Put stores site's flag bytes for every host (Apply of one site).
func (s *Store) Put(ctx context.Context, site string, flag []byte) error {
	if flag == nil {
		flag = []byte{}
	}
	return s.Apply(ctx, []control.RemoteChange{{Site: site, Flag: flag}})
}

// Delete switches site off for every host (Apply of one site): its key
// goes and its marker says a fleet-wide off was written.
func (s *Store) Delete(ctx context.Context, site string) error {
	return s.Apply(ctx, []control.RemoteChange{{Site: site}})
}

// Snapshot is what Redis holds at one moment.
type Snapshot struct {
	// Written is KEY:written, "" when Redis holds none: it lost
	// maintgate's keys (or no on/off ever ran with the fleet).
	Written string
	// Flags are the flag bytes of each site whose key exists.
	Flags map[string][]byte
	// Known are the sites whose KEY:written:SITE exists: a fleet-wide
	// on or off of that site was written since Redis last lost its
	// data, so its absent key means off. Absent key and no marker: the
	// fleet says nothing about the site (flushed, or never switched
	// fleet-wide) and each host keeps its own state of it.
	Known map[string]bool
}

// read is one MGET of the marker, the sites' keys and their markers:
// one round trip, and one moment (Redis runs a command whole).
func (c *conn) read(ctx context.Context, sites []string) (Snapshot, error) {
	keys := make([]string, 0, 1+2*len(sites))
	keys = append(keys, c.keys.Written())
	for _, s := range sites {
		keys = append(keys, c.keys.Flag(s), c.keys.SiteWritten(s))
	}
	vals, err := c.c.MGet(ctx, keys...).Result()
	if err != nil {
		return Snapshot{}, c.fail("read the switches", err)
	}
	snap := Snapshot{Flags: map[string][]byte{}, Known: map[string]bool{}}
	if w, ok := vals[0].(string); ok {
		snap.Written = w
	}
	for i, s := range sites {
		if v, ok := vals[1+2*i].(string); ok {
			snap.Flags[s] = []byte(v)
		}
		if _, ok := vals[2+2*i].(string); ok {
			snap.Known[s] = true
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
