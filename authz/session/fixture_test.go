package session

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Django 3.2's own DDL for the two tables (sqlmigrate auth / sessions),
// for tests and benchmarks that need many sessions fast and no Python.
// The Django tests (django_test.go) prove the real thing.
var (
	pgDDL = []string{
		`CREATE TABLE "auth_user" ("id" serial NOT NULL PRIMARY KEY, "password" varchar(128) NOT NULL, "last_login" timestamp with time zone NULL, "is_superuser" boolean NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "first_name" varchar(150) NOT NULL, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" boolean NOT NULL, "is_active" boolean NOT NULL, "date_joined" timestamp with time zone NOT NULL)`,
		`CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)`,
		`CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")`,
	}
	sqliteDDL = []string{
		`CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL)`,
		`CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)`,
		`CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")`,
	}
)

// fixtureUser is the superuser every fixture session belongs to.
var fixtureUser = userRow{ID: "1", Password: "pbkdf2_sha256$260000$fixturesalt$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=", Active: true, Superuser: true}

// fixtureKeys are n session keys, distinct per fixture.
func fixtureKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("fixture%025d", i)
	}
	return keys
}

// fillPostgres creates Django's tables in database and n sessions of the
// superuser, and returns their keys.
func fillPostgres(t testing.TB, database string, n int) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range pgDDL {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES ($1, true, 'admin', '', '', '', true, true, now())`, fixtureUser.Password); err != nil {
		t.Fatal(err)
	}
	keys := fixtureKeys(n)
	data := sessionFor(fixtureUser, testSecret)
	rows := make([][]any, n)
	for i, k := range keys {
		rows[i] = []any{k, data, time.Now().Add(24 * time.Hour)}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"django_session"}, []string{"session_key", "session_data", "expire_date"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	return keys
}

// fillSQLite does what fillPostgres does, in a new SQLite file.
func fillSQLite(t testing.TB, path string, n int) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range sqliteDDL {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES (?, 1, 'admin', '', '', '', 1, 1, '2026-01-01 00:00:00')`, fixtureUser.Password); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	keys := fixtureKeys(n)
	data := sessionFor(fixtureUser, testSecret)
	exp := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02 15:04:05.000000") // as Django writes it
	for _, k := range keys {
		if _, err := tx.Exec(`INSERT INTO django_session VALUES (?, ?, ?)`, k, data, exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// countingStore counts the queries that reach the database.
type countingStore struct {
	store
	sessions, users atomic.Int64
}

func (s *countingStore) session(ctx context.Context, key string) (string, time.Time, error) {
	s.sessions.Add(1)
	return s.store.session(ctx, key)
}

func (s *countingStore) user(ctx context.Context, id string) (userRow, error) {
	s.users.Add(1)
	return s.store.user(ctx, id)
}

func openCounting(t testing.TB, o Options) (*Checker, *countingStore) {
	t.Helper()
	c, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{store: c.store}
	c.store = cs
	t.Cleanup(func() { c.Close() })
	return c, cs
}
