package session

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/internal/testsvc"
)

// The hot path: a cached superuser, what every request of a logged-in
// admin costs during maintenance.
func BenchmarkCheckCached(b *testing.B) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	f.login("th4kvextmcfy17eewv37dbwxffnuufw3", admin, time.Now().Add(time.Hour), testSecret)
	c, _ := testChecker(b, f, Options{})
	c.now = time.Now
	if v := c.Check(testClient, "th4kvextmcfy17eewv37dbwxffnuufw3"); !v.Pass {
		b.Fatal(v)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v := c.Check(testClient, "th4kvextmcfy17eewv37dbwxffnuufw3"); !v.Cached {
			b.Fatal(v)
		}
	}
}

func BenchmarkCheckCachedParallel(b *testing.B) {
	f := newFakeStore()
	admin := f.addUser("1", true, true, 0)
	f.login("th4kvextmcfy17eewv37dbwxffnuufw3", admin, time.Now().Add(time.Hour), testSecret)
	c, _ := testChecker(b, f, Options{})
	c.now = time.Now
	c.Check(testClient, "th4kvextmcfy17eewv37dbwxffnuufw3")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Check(testClient, "th4kvextmcfy17eewv37dbwxffnuufw3")
		}
	})
}

// A cached signed_cookies session: the hash covers a ~250-byte cookie.
func BenchmarkCheckCachedSignedCookie(b *testing.B) {
	f := newFakeStore()
	f.users["1"] = fixtureUser
	c, _ := testChecker(b, f, Options{Store: StoreSignedCookies})
	c.now = time.Now
	cookie := signedCookie(fixtureUser, testSecret, time.Now())
	if v := c.Check(testClient, cookie); !v.Pass {
		b.Fatal(v)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Check(testClient, cookie)
	}
}

// A cookie that cannot be a session key: answered before any hashing.
func BenchmarkCheckNotAKey(b *testing.B) {
	c, _ := testChecker(b, newFakeStore(), Options{})
	b.ReportAllocs()
	for b.Loop() {
		c.Check(testClient, "not-a-django-session-key")
	}
}

// A flood of unknown well-formed cookies past the miss rate: the cost of
// each one the limiter turns away.
func BenchmarkCheckRateLimited(b *testing.B) {
	c, _ := testChecker(b, newFakeStore(), Options{MissRate: 1})
	c.now = time.Now
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = randomKey()
	}
	c.Check(testClient, keys[0])
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Check(testClient, keys[i%len(keys)])
		i++
	}
}

// Cold lookups: a cache miss that queries the session, then the user, on
// a warm connection pool.
func benchCold(b *testing.B, database string, key string) {
	c, err := Open(context.Background(), Options{Database: database, Secrets: [][]byte{testSecret}, LookupTimeout: 5 * time.Second, MissRate: 1e9})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if v := c.Check(testClient, key); !v.Pass {
		b.Fatal(v)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.cache.pos.Purge()
		if v := c.Check(testClient, key); !v.Pass || v.Cached {
			b.Fatal(v)
		}
	}
}

func BenchmarkColdLookupSQLite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "app.sqlite3")
	keys := fillSQLite(b, path, 1000)
	benchCold(b, "sqlite:"+path, keys[500])
}

func BenchmarkColdLookupPostgres(b *testing.B) {
	pg := testsvc.NewPostgres(b)
	db := pg.CreateDatabase(b, "app")
	keys := fillPostgres(b, db, 1000)
	benchCold(b, db, keys[500])
}

// BenchmarkCacheMemory100k reports the heap that 100,000 cached answers
// hold (cache_size = 100000), in bytes per entry.
func BenchmarkCacheMemory100k(b *testing.B) {
	const n = 100_000
	c, _ := testChecker(b, newFakeStore(), Options{CacheSize: n})
	keys := make([]cacheKey, n)
	for i := range keys {
		keys[i] = keyOf(fmt.Sprintf("k%031d", i))
	}
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		now := time.Now()
		for i, k := range keys {
			c.cache.put(k, authz.Verdict{Pass: i%2 == 0, UserID: fmt.Sprint(i % 5000), Reason: ReasonSuperuser}, time.Time{}, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if c.cache.pos.Len()+c.cache.neg.Len() != n {
			b.Fatalf("%d entries cached", c.cache.pos.Len()+c.cache.neg.Len())
		}
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		c.cache.purge()
	}
	b.ReportMetric(perEntry, "bytes/entry")
	b.ReportMetric(perEntry*n/(1<<20), "MiB/100k")
}
