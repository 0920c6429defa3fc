package session

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// allowConfigs are the [session] allow lists the Django sessions are
// checked under; allowCases say what each must answer ("" = the denied
// reason of that list).
var allowConfigs = [][]string{
	{"superuser"},
	{"staff"},
	{"active"},
	{"group:qa"},
	{"superuser", "group:qa", "group:other"},
	{"group:other", "group:qa"},
}

var allowCases = []struct {
	name string
	want [6]string // one per allowConfigs entry
}{
	// admin is superuser and staff; staff is staff only; plain, qa and
	// other_group are neither; qa is in qa and other, other_group in
	// other; inactive is all of these and inactive.
	{"superuser", [6]string{ReasonSuperuser, ReasonStaff, ReasonActive, "", ReasonSuperuser, ""}},
	{"staff", [6]string{ReasonNotSuperuser, ReasonStaff, ReasonActive, "", "", ""}},
	{"plain", [6]string{ReasonNotSuperuser, "", ReasonActive, "", "", ""}},
	{"qa", [6]string{ReasonNotSuperuser, "", ReasonActive, "member of group qa", "member of group qa", "member of group other"}},
	{"other_group", [6]string{ReasonNotSuperuser, "", ReasonActive, "", "member of group other", "member of group other"}},
	{"inactive", [6]string{ReasonInactive, ReasonInactive, ReasonInactive, ReasonInactive, ReasonInactive, ReasonInactive}},
	// No rule weakens Django's own checks.
	{"password_changed", [6]string{ReasonHashMismatch, ReasonHashMismatch, ReasonHashMismatch, ReasonHashMismatch, ReasonHashMismatch, ReasonHashMismatch}},
	{"anonymous", [6]string{ReasonNotLoggedIn, ReasonNotLoggedIn, ReasonNotLoggedIn, ReasonNotLoggedIn, ReasonNotLoggedIn, ReasonNotLoggedIn}},
	{"expired", [6]string{ReasonExpired, ReasonExpired, ReasonExpired, ReasonExpired, ReasonExpired, ReasonExpired}},
}

// groupCounter counts the group queries that reach the database.
type groupCounter struct {
	store
	n int
}

func (g *groupCounter) groups(ctx context.Context, userID string) ([]string, error) {
	g.n++
	return g.store.groups(ctx, userID)
}

// checkAllow checks every allowCases session under every allowConfigs
// list, against the tables a real Django filled, and counts the group
// queries: none unless allow names a group, and none for a user a
// cheaper rule let through.
func checkAllow(t *testing.T, database string, d testsvc.Sessions, secrets [][]byte) {
	for i, allow := range allowConfigs {
		t.Run(strings.Join(allow, ","), func(t *testing.T) {
			c, err := Open(context.Background(), Options{Database: database, Secrets: secrets, Allow: allow,
				LookupTimeout: 5 * time.Second, MissRate: 1000})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			gc := &groupCounter{store: c.store}
			c.store = gc
			for _, tc := range allowCases {
				want := tc.want[i]
				if want == "" {
					want = newRules(allow).denied
				}
				pass := want == ReasonSuperuser || want == ReasonStaff || want == ReasonActive || strings.HasPrefix(want, ReasonGroupPrefix)
				before := gc.n
				v := c.Check(testClient, d.Cases[tc.name].Cookie)
				if v.Reason != want || v.Pass != pass || v.Cached {
					t.Errorf("%s: Check = %+v, want %q", tc.name, v, want)
				}
				cached := v
				cached.Cached = true
				if v2 := c.Check(testClient, d.Cases[tc.name].Cookie); v2 != cached {
					t.Errorf("%s: second Check = %+v, want %+v", tc.name, v2, cached)
				}
				groupRule := strings.Contains(strings.Join(allow, ","), "group:")
				asked := gc.n - before
				if !groupRule && asked != 0 || want == ReasonSuperuser && asked != 0 {
					t.Errorf("%s: %d group queries, want none", tc.name, asked)
				}
			}
		})
	}
	t.Run("password", func(t *testing.T) {
		c, err := Open(context.Background(), Options{Database: database, Secrets: secrets, Allow: []string{"group:qa"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		denied := newRules([]string{"group:qa"}).denied
		for _, tc := range []struct {
			user, password, want string
			pass                 bool
		}{
			{"qa", "qa-pw", "member of group qa", true},
			{"qa", "wrong", ReasonWrongPassword, false},
			{"admin", d.Users["admin"].Password, denied, false},
			{"other", "other-pw", denied, false},
			{"inactive", "inactive-pw", ReasonInactive, false},
		} {
			v, err := c.CheckPassword(context.Background(), tc.user, tc.password)
			if err != nil || v.Reason != tc.want || v.Pass != tc.pass {
				t.Errorf("CheckPassword(%s) = %+v, %v; want %q", tc.user, v, err, tc.want)
			}
		}
	})
}

// TestGroupQueryUsesIndexes: the group query on the tables Django made
// searches both by index, whatever their size (SQLite's plan; PostgreSQL
// and MariaDB read tables this small whole, whatever their indexes).
func TestGroupQueryUsesIndexes(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/app.sqlite3"
	makeSessions(t, "sqlite:"+path)
	o := Options{Database: "sqlite:" + path, Allow: []string{"group:qa", "group:other"}}
	o.setDefaults()
	q, err := buildQueries(dialectSQLite, &o)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q.groups, groupArgs(&q, "1")...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if len(plan) != 2 {
		t.Fatalf("plan %q: want two searches", plan)
	}
	for _, step := range plan {
		if !strings.HasPrefix(step, "SEARCH") {
			t.Errorf("plan %q: %q reads a whole table", plan, step)
		}
	}
}
