package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// Keys the real Django signs with. The current one starts with '#', as one
// Django key in 50 does: LoadSecrets must not take it for a comment.
const (
	djangoSecret    = "#dj-current-key!@$%^&*(-_=+)0123456789abcdefghijkl"
	djangoOldSecret = "dj-old-key-rotated-away-0123456789abcdefghijklmnop"
)

// makeSessions has a real Django migrate database, create users and log
// them in.
func makeSessions(t testing.TB, database string) testsvc.Sessions {
	t.Helper()
	d := testsvc.MakeSessions(t, database, djangoSecret, djangoOldSecret)
	if len(d.Cases) < 15 {
		t.Fatalf("mksessions.py made %d cases", len(d.Cases))
	}
	return d
}

// secretFile writes the key file an operator would: comments, SECRET_KEY,
// then the fallback.
func secretFile(t testing.TB, keys ...string) [][]byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "django-secret")
	body := "# SECRET_KEY of the application, then SECRET_KEY_FALLBACKS\n\n" + strings.Join(keys, "\n") + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSecrets(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// djangoCase is what maintgate must answer for a session mksessions.py
// made, under each configuration.
type djangoCase struct {
	name string
	// want under: the key file with the fallback, the key file without it,
	// and no key file (trust the database).
	withFallback, currentOnly, trusting string
}

var dbCases = []djangoCase{
	{"superuser", ReasonSuperuser, ReasonSuperuser, ReasonSuperuser},
	{"compressed_superuser", ReasonSuperuser, ReasonSuperuser, ReasonSuperuser},
	{"legacy_superuser", ReasonSuperuser, ReasonSuperuser, ReasonSuperuser},
	{"pbkdf2_sha1_superuser", ReasonSuperuser, ReasonSuperuser, ReasonSuperuser},
	{"oldkey_superuser", ReasonSuperuser, ReasonBadSignature, ReasonSuperuser},
	{"staff", ReasonNotSuperuser, ReasonNotSuperuser, ReasonNotSuperuser},
	{"plain", ReasonNotSuperuser, ReasonNotSuperuser, ReasonNotSuperuser},
	{"qa", ReasonNotSuperuser, ReasonNotSuperuser, ReasonNotSuperuser},
	{"other_group", ReasonNotSuperuser, ReasonNotSuperuser, ReasonNotSuperuser},
	{"inactive", ReasonInactive, ReasonInactive, ReasonInactive},
	// Without the key the password change cannot be seen: the README says so.
	{"password_changed", ReasonHashMismatch, ReasonHashMismatch, ReasonSuperuser},
	{"deleted_user", ReasonNoUser, ReasonNoUser, ReasonNoUser},
	{"expired", ReasonExpired, ReasonExpired, ReasonExpired},
	{"anonymous", ReasonNotLoggedIn, ReasonNotLoggedIn, ReasonNotLoggedIn},
	{"signed_superuser", ReasonNotKey, ReasonNotKey, ReasonNotKey},
}

var signedCases = []djangoCase{
	{"signed_superuser", ReasonSuperuser, ReasonSuperuser, ""},
	{"signed_sha1_superuser", ReasonSuperuser, ReasonSuperuser, ""},
	{"signed_oldkey_superuser", ReasonSuperuser, ReasonBadSignature, ""},
	{"signed_staff", ReasonNotSuperuser, ReasonNotSuperuser, ""},
	{"signed_expired", ReasonExpired, ReasonExpired, ""},
	{"superuser", ReasonNotKey, ReasonNotKey, ""},
}

// checkDjango runs every case against database, which mksessions.py has
// filled, under every configuration.
func checkDjango(t *testing.T, database string, d testsvc.Sessions) {
	withFallback := secretFile(t, djangoSecret, djangoOldSecret)
	currentOnly := secretFile(t, djangoSecret)
	for _, conf := range []struct {
		name    string
		store   string
		secrets [][]byte
		cases   []djangoCase
		pick    func(djangoCase) string
	}{
		{"db/fallback", StoreDjango, withFallback, dbCases, func(c djangoCase) string { return c.withFallback }},
		{"db/current", StoreDjango, currentOnly, dbCases, func(c djangoCase) string { return c.currentOnly }},
		{"db/trust", StoreDjango, nil, dbCases, func(c djangoCase) string { return c.trusting }},
		{"signed/fallback", StoreSignedCookies, withFallback, signedCases, func(c djangoCase) string { return c.withFallback }},
		{"signed/current", StoreSignedCookies, currentOnly, signedCases, func(c djangoCase) string { return c.currentOnly }},
	} {
		t.Run(conf.name, func(t *testing.T) {
			c, err := Open(context.Background(), Options{Store: conf.store, Database: database, Secrets: conf.secrets,
				LookupTimeout: 5 * time.Second, MissRate: 1000})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			for _, tc := range conf.cases {
				dc, ok := d.Cases[tc.name]
				if !ok {
					t.Fatalf("mksessions.py made no case %q", tc.name)
				}
				want := conf.pick(tc)
				v := c.Check(testClient, dc.Cookie)
				if v.Reason != want || v.Pass != (want == ReasonSuperuser) || v.Cached {
					t.Errorf("%s: Check = %+v, want %q", tc.name, v, want)
				}
				if want == ReasonSuperuser && v.UserID != dc.UserID {
					t.Errorf("%s: UserID %q, want %q", tc.name, v.UserID, dc.UserID)
				}
				if v2 := c.Check(testClient, dc.Cookie); v2.Reason != want || (want != ReasonNotKey && !v2.Cached) {
					t.Errorf("%s: second Check = %+v, want cached %q", tc.name, v2, want)
				}
			}
		})
	}

	t.Run("password", func(t *testing.T) {
		c, err := Open(context.Background(), Options{Database: database, Secrets: withFallback})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, tc := range []struct{ user, password, want string }{
			{"admin", d.Users["admin"].Password, ReasonSuperuser},
			{"admin", "wrong", ReasonWrongPassword},
			{"sha1admin", d.Users["sha1admin"].Password, ReasonSuperuser},
			{"changed", d.Users["changed"].Password, ReasonSuperuser},
			{"changed", "changed-pw", ReasonWrongPassword},
			{"staff", d.Users["staff"].Password, ReasonNotSuperuser},
			{"inactive", d.Users["inactive"].Password, ReasonInactive},
			{"md5admin", d.Users["md5admin"].Password, `password hash algorithm not supported (maintgate verifies pbkdf2_sha256 and pbkdf2_sha1): "md5"`},
			{"nobody", "x", ReasonNoUser},
		} {
			v, err := c.CheckPassword(context.Background(), tc.user, tc.password)
			if err != nil || v.Reason != tc.want || v.Pass != (tc.want == ReasonSuperuser) {
				t.Errorf("CheckPassword(%s) = %+v, %v; want %q", tc.user, v, err, tc.want)
			}
		}
	})

	t.Run("allow", func(t *testing.T) { checkAllow(t, database, d, withFallback) })

	t.Run("username", func(t *testing.T) {
		c, err := Open(context.Background(), Options{Database: database, Secrets: withFallback})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, name := range []string{"admin", "staff"} {
			if got, err := c.Username(context.Background(), d.Users[name].ID); err != nil || got != name {
				t.Errorf("Username(%s) = %q, %v; want %q", d.Users[name].ID, got, err, name)
			}
		}
		if _, err := c.Username(context.Background(), "987654"); err == nil {
			t.Error("Username of no user: no error")
		}
	})

	t.Run("ping names the table", func(t *testing.T) {
		for _, tc := range []struct {
			o     Options
			table string
		}{
			{Options{Database: database, SessionTable: "no_such_sessions"}, "no_such_sessions"},
			{Options{Database: database, UserTable: "no_such_users"}, "no_such_users"},
			{Options{Database: database, Store: StoreSignedCookies, Secrets: withFallback, UserTable: "no_such_users"}, "no_such_users"},
			{Options{Database: database, Allow: []string{"group:qa"}, GroupTable: "no_such_groups"}, "no_such_groups"},
			{Options{Database: database, Allow: []string{"group:qa"}, UserGroupsTable: "no_such_members"}, "no_such_members"},
		} {
			c, err := Open(context.Background(), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Ping(context.Background())
			c.Close()
			if err == nil || !strings.Contains(err.Error(), "table "+tc.table+" is not readable") {
				t.Errorf("Ping = %v, want an error naming %s", err, tc.table)
			}
		}
	})
}

func TestDjangoSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "app.sqlite3")
	d := makeSessions(t, "sqlite:"+path)
	checkDjango(t, "sqlite:"+path, d)
	t.Run("sqlite:///", func(t *testing.T) {
		c, err := Open(context.Background(), Options{Database: "sqlite://" + path, Secrets: secretFile(t, djangoSecret)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if v := c.Check(testClient, d.Cases["superuser"].Cookie); !v.Pass {
			t.Errorf("Check = %+v", v)
		}
	})
	t.Run("missing file is unreachable, not created", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.sqlite3")
		c, err := Open(context.Background(), Options{Database: "sqlite:" + missing})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if v := c.Check(testClient, d.Cases["superuser"].Cookie); !strings.HasPrefix(v.Reason, "database unreachable: ") {
			t.Errorf("Check = %+v", v)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Error("opening a missing SQLite database created it")
		}
	})
}

func TestDjangoPostgres(t *testing.T) {
	t.Parallel()
	pg := testsvc.NewPostgres(t)
	db := pg.CreateDatabase(t, "djangoapp")
	checkDjango(t, db, makeSessions(t, db))
}

func TestDjangoMariaDB(t *testing.T) {
	t.Parallel()
	m := testsvc.StartMariaDB(t)
	checkDjango(t, m.URL, makeSessions(t, m.URL))
}
