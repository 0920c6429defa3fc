package session

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatsCountLookupsHitsAndErrors: against a real SQLite database, each
// lookup, cache hit and database failure is counted once, and nothing
// else is (a cookie that cannot be a session key makes no lookup).
func TestStatsCountLookupsHitsAndErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sqlite3")
	keys := fillSQLite(t, path, 3)
	c, err := Open(context.Background(), Options{Database: "sqlite:" + path, Secrets: [][]byte{testSecret},
		LookupTimeout: 5 * time.Second, MissRate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	steps := []struct {
		cookie, reason string
		want           Stats
	}{
		{keys[0], ReasonSuperuser, Stats{Lookups: 1}},
		{keys[0], ReasonSuperuser, Stats{Lookups: 1, CacheHits: 1}},
		{"nosuchsession0000000000000000000", ReasonNoSession, Stats{Lookups: 2, CacheHits: 1}},
		{"nosuchsession0000000000000000000", ReasonNoSession, Stats{Lookups: 2, CacheHits: 2}},
		{"not a key", ReasonNotKey, Stats{Lookups: 2, CacheHits: 2}},
		{"drop", "", Stats{}},
		{keys[1], "database error: ", Stats{Lookups: 3, CacheHits: 2, DBErrors: 1}},
		{keys[0], ReasonSuperuser, Stats{Lookups: 3, CacheHits: 3, DBErrors: 1}},
	}
	for i, s := range steps {
		if s.cookie == "drop" {
			dropSessions(t, path)
			continue
		}
		v := c.Check(testClient, s.cookie)
		c.wg.Wait() // a lookup counts its failure before it answers; wait all the same
		if !strings.HasPrefix(v.Reason, s.reason) {
			t.Fatalf("step %d: Check(%q) = %+v, want %q", i, s.cookie, v, s.reason)
		}
		if got := c.Stats(); got != s.want {
			t.Errorf("step %d: Check(%q): stats %+v, want %+v", i, s.cookie, got, s.want)
		}
	}
}

func dropSessions(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TABLE django_session`); err != nil {
		t.Fatal(err)
	}
}

func TestStatsAdd(t *testing.T) {
	a, b := Stats{1, 2, 3}, Stats{10, 20, 30}
	if got := a.Add(b); got != (Stats{11, 22, 33}) {
		t.Errorf("%+v + %+v = %+v", a, b, got)
	}
}
