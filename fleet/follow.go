package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// follower is the mirror's subscription to KEY:events and what it awaits
// on it. A read timeout is a quiet channel only on a connection Redis has
// answered (the subscription's reply) and while no ping's answer is
// overdue: a Redis that accepts and never answers (hung), or a half-open
// connection, would otherwise look like a quiet channel until the next
// resync, and the events sent meanwhile would be lost without a word.
type follower struct {
	client  *redis.Client
	channel string
	ps      *redis.PubSub
	stop    func() bool
	// answered: Redis replied on the current connection; until it does,
	// a receive waits ioTimeout at most and its timeout is an outage.
	answered bool
	// due is when the answer to the last ping (or resubscription) is
	// overdue; zero when none is awaited.
	due time.Time
}

// errNoAnswer is why a connection that answers nothing is dropped.
//
//lint:ignore ST1005 Redis is a name; the text follows "…: follow KEY:events: "
var errNoAnswer = fmt.Errorf("Redis does not answer (nothing within %s)", ioTimeout)

func newFollower(ctx context.Context, c *redis.Client, channel string) *follower {
	f := &follower{client: c, channel: channel}
	f.open(ctx)
	return f
}

// open subscribes on a new connection (go-redis connects here, or at the
// first receive if that fails).
func (f *follower) open(ctx context.Context) {
	ps := f.client.Subscribe(ctx, f.channel)
	// A canceled context does not interrupt a read in progress; closing
	// the subscription does.
	f.ps, f.stop = ps, context.AfterFunc(ctx, func() { ps.Close() })
	f.answered, f.due = false, time.Time{}
}

func (f *follower) close() {
	f.stop()
	_ = f.ps.Close()
}

// receive waits for the next message or reply, wait at most, and less
// while an answer is awaited (then its timeout is no quiet channel: see
// idle).
func (f *follower) receive(ctx context.Context, wait time.Duration) (any, error) {
	switch {
	case !f.answered:
		wait = ioTimeout
	case !f.due.IsZero():
		wait = min(wait, max(time.Until(f.due), time.Millisecond))
	}
	msg, err := f.ps.ReceiveTimeout(ctx, wait)
	switch {
	case err == nil || isRefusal(err):
		f.answered, f.due = true, time.Time{}
	case !isTimeout(err):
		// go-redis drops the connection; the next receive makes a new
		// one, whose subscription's reply is awaited.
		f.answered = false
	}
	return msg, err
}

// idle: err is a read timeout on a connection that answers, with no
// answer overdue: the channel is just quiet.
func (f *follower) idle(err error) bool {
	return isTimeout(err) && f.answered && (f.due.IsZero() || time.Now().Before(f.due))
}

// check runs after each resync that Redis answered: it asks for the
// subscription again if Redis refused it (the ACL may have been mended),
// else sends a ping; either's answer is due within ioTimeout.
func (f *follower) check(ctx context.Context, refused bool) {
	var err error
	if refused {
		err = f.ps.Subscribe(ctx, f.channel)
	} else {
		err = f.ps.Ping(ctx)
	}
	if err != nil {
		// The write failed: go-redis makes a new connection.
		f.answered = false
		return
	}
	if f.due.IsZero() {
		f.due = time.Now().Add(ioTimeout)
	}
}
