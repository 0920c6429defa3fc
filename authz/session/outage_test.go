package session

import (
	"crypto/rand"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/internal/testsvc"
)

// slack is what a loaded, race-detector CI machine may add to a wait.
// These bounds are sanity checks; the real figures are in the benchmarks
// and in the test logs.
const slack = 400 * time.Millisecond

func randomKey() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// timedCheck runs Check and returns the verdict and how long it took.
func timedCheck(c *Checker, cookie string) (authz.Verdict, time.Duration) {
	start := time.Now()
	v := c.Check(testClient, cookie)
	return v, time.Since(start)
}

// eventually polls Check until it returns a superuser from the cache.
func eventually(t *testing.T, c *Checker, cookie string, within time.Duration) authz.Verdict {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := c.Check(testClient, cookie)
		if v.Pass && v.Cached || time.Now().After(deadline) {
			return v
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	pg := testsvc.NewPostgres(t)
	db := pg.CreateDatabase(t, "app")
	keys := fillPostgres(t, db, 300)
	const timeout = 100 * time.Millisecond

	t.Run("stopped mid-run", func(t *testing.T) {
		c, _ := openCounting(t, Options{Database: db, Secrets: [][]byte{testSecret},
			LookupTimeout: timeout, RetryInterval: 300 * time.Millisecond, MissRate: 1e6})
		if v := eventually(t, c, keys[0], 10*time.Second); !v.Pass {
			t.Fatalf("before the outage: %+v", v)
		}
		pg.Stop(t)

		if v, d := timedCheck(c, keys[0]); !v.Pass || !v.Cached {
			t.Errorf("cached superuser during the outage: %+v (%v)", v, d)
		}
		var worst time.Duration
		reasons := map[string]int{}
		for _, k := range keys[1:101] {
			v, d := timedCheck(c, k)
			worst = max(worst, d)
			reasons[strings.SplitN(v.Reason, ":", 2)[0]]++
			if v.Pass {
				t.Fatalf("superuser while the database is down: %+v", v)
			}
			if k == keys[1] {
				t.Logf("first miss: %+v", v)
			}
		}
		t.Logf("database stopped: 100 misses, slowest Check %v (lookup_timeout %v); reasons %v", worst, timeout, reasons)
		if worst > timeout+slack {
			t.Errorf("a Check took %v with lookup_timeout %v", worst, timeout)
		}
		if reasons["database unreachable"] != 100 {
			t.Errorf("reasons %v, want 100 × database unreachable", reasons)
		}

		pg.Start(t)
		if v := eventually(t, c, keys[200], 10*time.Second); !v.Pass {
			t.Errorf("after the database came back: %+v", v)
		}
	})

	t.Run("slow database", func(t *testing.T) {
		proxy := testsvc.NewProxy(t, fmt.Sprintf("127.0.0.1:%d", pg.Port))
		proxy.SetDelay(150 * time.Millisecond) // a query takes at least 300ms
		slow := strings.Replace(db, fmt.Sprintf("127.0.0.1:%d", pg.Port), proxy.Addr, 1)
		c, cs := openCounting(t, Options{Database: slow, Secrets: [][]byte{testSecret},
			LookupTimeout: 50 * time.Millisecond, MissRate: 1e6})

		var worst time.Duration
		for i := range 20 { // misses for one cookie: one lookup, one wait
			v, d := timedCheck(c, keys[1])
			worst = max(worst, d)
			if want := map[bool]string{true: ReasonTimeout, false: ReasonPending}[i == 0]; v.Reason != want {
				t.Fatalf("slow lookup, request %d: %+v, want %q", i+1, v, want)
			}
			if i > 0 && d > slack {
				t.Errorf("request %d waited %v: a cookie waits once", i+1, d)
			}
		}
		if worst > 50*time.Millisecond+slack {
			t.Errorf("a Check took %v with lookup_timeout 50ms", worst)
		}
		v := eventually(t, c, keys[1], 10*time.Second)
		if !v.Pass || !v.Cached {
			t.Fatalf("the slow lookup did not fill the cache: %+v", v)
		}
		if n := cs.sessions.Load(); n != 1 {
			t.Errorf("%d session queries for one cookie, want 1", n)
		}
		t.Logf("slow database (+300ms a query): Check answered %q within %v, then cached", ReasonTimeout, worst)
	})

	t.Run("hanging database", func(t *testing.T) {
		proxy := testsvc.NewProxy(t, fmt.Sprintf("127.0.0.1:%d", pg.Port))
		proxy.SetBlackhole(true)
		hung := strings.Replace(db, fmt.Sprintf("127.0.0.1:%d", pg.Port), proxy.Addr, 1)
		c, _ := openCounting(t, Options{Database: hung, Secrets: [][]byte{testSecret},
			LookupTimeout: 20 * time.Millisecond, QueryTimeout: time.Second, MissRate: 1e6, MaxConns: 2})
		before := runtime.NumGoroutine()
		var worst time.Duration
		reasons := map[string]int{}
		for range 500 {
			v, d := timedCheck(c, randomKey())
			worst = max(worst, d)
			reasons[strings.SplitN(v.Reason, ":", 2)[0]]++
		}
		grown := runtime.NumGoroutine() - before
		t.Logf("hanging database: 500 misses, slowest %v, %d lookups started, goroutines +%d; reasons %v", worst, c.lookups.Load(), grown, reasons)
		if n := c.lookups.Load(); n > int64(c.maxInflight) {
			t.Errorf("%d lookups started against a hanging database, want at most %d", n, c.maxInflight)
		}
		if grown > 4*c.maxInflight+10 {
			t.Errorf("goroutines grew by %d", grown)
		}
		if worst > 20*time.Millisecond+slack {
			t.Errorf("a Check took %v with lookup_timeout 20ms", worst)
		}
		// Once the lookups give up (query timeout 1s), the database counts as
		// failed (timed out: a connection that hangs) and misses cost nothing.
		time.Sleep(1500 * time.Millisecond)
		v, d := timedCheck(c, randomKey())
		if !strings.HasPrefix(v.Reason, "database timed out") && !strings.HasPrefix(v.Reason, "database unreachable") || d > 10*time.Millisecond+slack {
			t.Errorf("after the query timeout: %+v in %v", v, d)
		}
	})

	t.Run("flood of random cookies", func(t *testing.T) {
		const rate = 50
		c, cs := openCounting(t, Options{Database: db, Secrets: [][]byte{testSecret},
			LookupTimeout: 100 * time.Millisecond, MissRate: rate})
		admin := keys[2]
		if v := eventually(t, c, admin, 10*time.Second); !v.Pass {
			t.Fatalf("superuser: %+v", v)
		}
		var (
			stop     atomic.Bool
			checks   atomic.Int64
			wg       sync.WaitGroup
			mu       sync.Mutex
			reasons  = map[string]int{}
			probeMax time.Duration
			probes   int
		)
		start := time.Now()
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := map[string]int{}
				for !stop.Load() {
					local[c.Check(testClient, randomKey()).Reason]++
					checks.Add(1)
				}
				mu.Lock()
				for k, n := range local {
					reasons[k] += n
				}
				mu.Unlock()
			}()
		}
		// The superuser keeps its cached answer, fast, all through the flood.
		for time.Since(start) < time.Second {
			v, d := timedCheck(c, admin)
			probes++
			probeMax = max(probeMax, d)
			if !v.Pass || !v.Cached {
				t.Errorf("superuser during the flood: %+v", v)
				break
			}
			time.Sleep(time.Millisecond)
		}
		stop.Store(true)
		wg.Wait()
		elapsed := time.Since(start)
		queries := cs.sessions.Load() - 1
		budget := int64(rate + rate*elapsed.Seconds() + 1)
		t.Logf("flood: %d random cookies in %v, %d session queries (budget %d), reasons %v; superuser probe: %d checks, slowest %v",
			checks.Load(), elapsed.Round(time.Millisecond), queries, budget, reasons, probes, probeMax)
		if queries > budget {
			t.Errorf("%d queries in %v at miss rate %d/s", queries, elapsed, rate)
		}
		if reasons[ReasonRateLimit] == 0 {
			t.Errorf("no miss was rate limited: %v", reasons)
		}
		if probeMax > slack {
			t.Errorf("the cached superuser took %v during the flood", probeMax)
		}
	})
}
