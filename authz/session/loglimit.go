package session

import (
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// limitedLog writes at most one line a second of one kind, so a flood
// cannot fill the disk; the next line says how many were left out.
type limitedLog struct {
	next       atomic.Int64 // UnixNano before which lines are dropped
	suppressed atomic.Int64
}

func (l *limitedLog) allow(now time.Time) (int64, bool) {
	n := l.next.Load()
	if now.UnixNano() < n || !l.next.CompareAndSwap(n, now.Add(time.Second).UnixNano()) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

// event starts a line at level, or returns nil (which zerolog's chained
// calls accept) when this kind was logged less than a second ago.
func (l *limitedLog) event(log *zerolog.Logger, level zerolog.Level, now time.Time) *zerolog.Event {
	if s, ok := l.allow(now); ok {
		return log.WithLevel(level).Int64("suppressed", s)
	}
	return nil
}
