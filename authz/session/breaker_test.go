package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

func TestClassify(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want failKind
	}{
		{live, &pgconn.PgError{Code: "55P03", Message: "canceling statement due to lock timeout"}, failLocked},
		{live, &pgconn.PgError{Code: "40P01"}, failLocked},
		{live, &pgconn.PgError{Code: "57014", Message: "canceling statement due to statement timeout"}, failTimeout},
		{live, &pgconn.PgError{Code: "57P01"}, failUnreachable},
		{live, &pgconn.PgError{Code: "08006"}, failUnreachable},
		{live, &pgconn.PgError{Code: "42P01", Message: `relation "django_session" does not exist`}, failError},
		{live, fmt.Errorf("query: %w", &mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}), failLocked},
		{live, &mysql.MySQLError{Number: 1213}, failLocked},
		{live, &mysql.MySQLError{Number: 1969}, failTimeout},
		{live, &mysql.MySQLError{Number: 1146, Message: "Table 'x.django_session' doesn't exist"}, failError},
		{live, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, failUnreachable},
		{live, context.DeadlineExceeded, failTimeout},
		{expired, errors.New("some driver error"), failTimeout},
		// No decision by text: an error that merely says so is an error.
		{live, errors.New("conn closed: database is locked, unreachable"), failError},
	} {
		if got := classify(tc.ctx, tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A stalled database: the first miss waits lookup_timeout; after that no
// miss waits (its lookup runs in the background), and the stalled
// cookie's own lookup fills the cache when the database answers.
func TestStalledDatabaseWaitsOnce(t *testing.T) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	f.login("stalledadmin", admin, time.Now().Add(time.Hour), testSecret)
	gate := make(chan struct{})
	f.setGate(gate)
	c, _ := testChecker(t, f, Options{LookupTimeout: 20 * time.Millisecond})
	if v, d := timedCheck(c, "stalledadmin"); v.Reason != ReasonTimeout || d < 20*time.Millisecond {
		t.Fatalf("first miss: %+v in %v, want %q after waiting", v, d, ReasonTimeout)
	}
	var waited time.Duration
	for i := range 200 {
		cookie := "stalledadmin"
		if i%2 == 1 {
			cookie = key(i)
		}
		v, d := timedCheck(c, cookie)
		waited += d
		if v.Reason != ReasonPending && v.Reason != ReasonBusy {
			t.Fatalf("miss while stalled: %+v", v)
		}
	}
	if waited > 20*time.Millisecond {
		t.Errorf("200 misses while stalled blocked %v in all, want none waiting", waited)
	}
	f.setGate(nil)
	close(gate)
	c.wg.Wait()
	if v := c.Check(testClient, "stalledadmin"); !v.Pass || !v.Cached {
		t.Errorf("after the stall: %+v, want the cached superuser", v)
	}
}

// A lock trips the breaker by its typed kind: no query during the pause,
// one probe after it that nobody waits for, a longer pause after the probe
// fails, and the lock logged as a warning.
func TestLockTripsBreaker(t *testing.T) {
	f := newFakeStore()
	f.setErr(&pgconn.PgError{Code: "55P03", Message: "canceling statement due to lock timeout"})
	var logs logBuffer
	c, clk := testChecker(t, f, Options{RetryInterval: time.Second, Logger: logTo(&logs, zerolog.InfoLevel)})
	if v := c.Check(testClient, key(1)); !strings.HasPrefix(v.Reason, "database locked: ") {
		t.Fatalf("Check = %+v", v)
	}
	queries := func() int64 { c.wg.Wait(); return f.queries.Load() }
	for i := range 100 {
		if v, d := timedCheck(c, key(i)); !strings.HasPrefix(v.Reason, "database locked: ") || d > 10*time.Millisecond {
			t.Fatalf("during the pause: %+v in %v", v, d)
		}
	}
	if n := queries(); n != 1 {
		t.Fatalf("%d queries during the pause, want 1", n)
	}
	clk.add(1100 * time.Millisecond) // the probe: answered at once, fails
	if v, d := timedCheck(c, key(200)); !strings.HasPrefix(v.Reason, "database locked: ") || d > 10*time.Millisecond {
		t.Fatalf("probe: %+v in %v", v, d)
	}
	if n := queries(); n != 2 {
		t.Fatalf("%d queries after the probe, want 2", n)
	}
	clk.add(1100 * time.Millisecond) // the second pause is 2s
	c.Check(testClient, key(201))
	if n := queries(); n != 2 {
		t.Fatalf("%d queries 1.1s into the second pause, want 2", n)
	}
	clk.add(time.Second)
	f.setErr(nil)
	c.Check(testClient, key(202)) // the second probe finds the lock gone
	if n := queries(); n != 3 {
		t.Fatalf("%d queries after the second pause, want 3", n)
	}
	if v := c.Check(testClient, key(202)); v.Reason != ReasonNoSession || !v.Cached {
		t.Errorf("the probe's answer: %+v, want cached %q", v, ReasonNoSession)
	}
	if out := logs.String(c); !strings.Contains(out, `"level":"warn"`) || !strings.Contains(out, "locked") || strings.Contains(out, `"level":"error"`) {
		t.Errorf("want the lock logged as a warning:\n%s", out)
	}
}

// One source flooding random session ids spends its own share of the
// budget, not everyone's: a superuser from another address, not yet
// cached, is looked up and passes.
func TestFloodFromOneSourceLeavesOthersTheirBudget(t *testing.T) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	f.login("adminelsewhere", admin, time.Now().Add(time.Hour), testSecret)
	c, clk := testChecker(t, f, Options{MissRate: 50})
	flooder := func(i int) netip.Addr { // one /64, many addresses
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xf0, 0x0d, 14: byte(i >> 8), 15: byte(i)})
	}
	refused := 0
	for i := range 300 { // 100/s for 3 s
		clk.add(10 * time.Millisecond)
		if c.Check(flooder(i), randomKey()).Reason == ReasonRateLimit {
			refused++
		}
	}
	// burst 20, then 10/s: at most 50 lookups in 3 s.
	if n := c.lookups.Load(); n > 50 || refused < 250 {
		t.Errorf("flood: %d lookups, %d refused; want at most 50 lookups (the source's share)", n, refused)
	}
	if v := c.Check(netip.MustParseAddr("198.51.100.7"), "adminelsewhere"); !v.Pass {
		t.Errorf("superuser from another address during the flood: %+v", v)
	}
}

// The checker logs to the logger in force, not to the one it was opened
// with: a reload that changes [log] closes the old one.
func TestLoggerFollowsReload(t *testing.T) {
	var before, after logBuffer
	var cur atomic.Pointer[zerolog.Logger]
	l := zerolog.New(&before)
	cur.Store(&l)
	f := newFakeStore()
	c, _ := testChecker(t, f, Options{Logger: cur.Load})
	l2 := zerolog.New(&after)
	cur.Store(&l2)
	f.setErr(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	c.Check(testClient, key(1))
	if out := after.String(c); !strings.Contains(out, "session database failed") {
		t.Errorf("the new logger lacks the failure:\n%s", out)
	}
	if out := before.String(c); out != "" {
		t.Errorf("the old logger got:\n%s", out)
	}
}
