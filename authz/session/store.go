package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/maintgate/maintgate/authz/session/settings"
)

// store is the database behind a Checker: one small interface so tests can
// put a slow, failing or counting one in its place.
type store interface {
	// session returns session_data and expire_date of a session key, or
	// errNotFound.
	session(ctx context.Context, key string) (data string, expires time.Time, err error)
	// user returns the auth_user row with this primary key, or errNotFound.
	user(ctx context.Context, id string) (userRow, error)
	// userByName returns the auth_user row with this user name, or
	// errNotFound.
	userByName(ctx context.Context, name string) (userRow, error)
	// username returns the user name of the user with this primary key,
	// or errNotFound: for the panel's audit lines, never on the gate's path.
	username(ctx context.Context, id string) (string, error)
	// groups returns which of the allowed groups (queries.groupNames) the
	// user with this primary key is a member of, in one query: empty
	// when none. Called only when allow names a group.
	groups(ctx context.Context, userID string) ([]string, error)
	// ping proves the tables are readable; the error names the table.
	ping(ctx context.Context, sessionTable bool) error
	close() error
}

type userRow struct {
	ID        string
	Password  string
	Active    bool
	Superuser bool
	Staff     bool // read only when allow has "staff"
}

var errNotFound = errors.New("not found")

// dialect is what differs between the three databases.
type dialect struct {
	name     string // postgres, sqlite, mysql
	quote    func(string) string
	param    func(n int) string
	naive    bool // datetimes carry no zone (Django stores UTC when USE_TZ)
	prepared bool // use database/sql prepared statements
}

var (
	dialectPostgres = dialect{
		name:  "postgres",
		quote: func(s string) string { return `"` + s + `"` },
		param: func(n int) string { return "$" + strconv.Itoa(n) },
		// pgx already prepares and caches statements per connection, and
		// drops a cached statement that fails (after a migration changed
		// its table, say) so the next use prepares it again; a
		// database/sql Stmt would keep failing.
	}
	dialectSQLite = dialect{
		name:     "sqlite",
		quote:    func(s string) string { return `"` + s + `"` },
		param:    func(int) string { return "?" },
		naive:    true,
		prepared: true,
	}
	dialectMySQL = dialect{
		name:  "mysql",
		quote: func(s string) string { return "`" + s + "`" },
		param: func(int) string { return "?" },
		naive: true,
		// Without it go-sql-driver prepares, executes and closes a
		// statement for every query: three round trips instead of one.
		prepared: true,
	}
)

// quoteTable quotes a table name ("table" or "schema.table") for the
// dialect. Names go into SQL text: one that settings.ValidTableName refuses is an
// error here too, whoever built the Options.
func quoteTable(d dialect, key, name string) (string, error) {
	if !settings.ValidTableName(name) {
		return "", fmt.Errorf("%s %q: not a table name", key, name)
	}
	schema, table, dotted := strings.Cut(name, ".")
	if !dotted {
		return d.quote(name), nil
	}
	return d.quote(schema) + "." + d.quote(table), nil
}

// queries are the statements for one dialect, set of table names and
// allow rules.
type queries struct {
	session, user, userByName, username string
	// staff: the user queries read is_staff too, as a fifth column. Only
	// then: a custom user model without is_staff keeps working.
	staff bool
	// groups is the group membership query, "" unless allow names a
	// group; groupNames are its parameters after the user id.
	groups       string
	groupNames   []string
	probes       []probe
	sessionTable string // as configured, for messages
}

// probe is a query that proves a table readable, for ping.
type probe struct {
	table   string // as configured, for messages
	q       string
	session bool // the session table: not for signed cookies
}

func buildQueries(d dialect, o *Options) (queries, error) {
	var err error
	tables := map[string]string{}
	for _, t := range []struct{ key, name string }{
		{"session_table", o.SessionTable}, {"user_table", o.UserTable},
		{"group_table", o.GroupTable}, {"user_groups_table", o.UserGroupsTable},
	} {
		if tables[t.key], err = quoteTable(d, t.key, t.name); err != nil {
			return queries{}, err
		}
	}
	if !settings.ValidIdent(o.UsernameColumn) {
		return queries{}, fmt.Errorf("username column %q: not a column name", o.UsernameColumn)
	}
	allow, probs := settings.ParseAllow(o.Allow)
	if len(probs) > 0 {
		return queries{}, probs[0]
	}
	st, ut := tables["session_table"], tables["user_table"]
	q, p := d.quote, d.param(1)
	user := "SELECT " + q("id") + ", " + q("password") + ", " + q("is_active") + ", " + q("is_superuser")
	if allow.Staff {
		user += ", " + q("is_staff")
	}
	qs := queries{
		session:      "SELECT " + q("session_data") + ", " + q("expire_date") + " FROM " + st + " WHERE " + q("session_key") + " = " + p,
		user:         user + " FROM " + ut + " WHERE " + q("id") + " = " + p,
		userByName:   user + " FROM " + ut + " WHERE " + q(o.UsernameColumn) + " = " + p,
		username:     "SELECT " + q(o.UsernameColumn) + " FROM " + ut + " WHERE " + q("id") + " = " + p,
		staff:        allow.Staff,
		sessionTable: o.SessionTable,
		probes: []probe{
			{o.SessionTable, "SELECT " + q("session_key") + ", " + q("session_data") + ", " + q("expire_date") + " FROM " + st + " LIMIT 1", true},
			{o.UserTable, user + ", " + q(o.UsernameColumn) + " FROM " + ut + " LIMIT 1", false},
		},
	}
	if len(allow.Groups) > 0 {
		gt, mt := tables["group_table"], tables["user_groups_table"]
		qs.groups, qs.groupNames = groupsQuery(d, gt, mt, len(allow.Groups)), allow.Groups
		qs.probes = append(qs.probes,
			probe{o.UserGroupsTable, "SELECT " + q("user_id") + ", " + q("group_id") + " FROM " + mt + " LIMIT 1", false},
			probe{o.GroupTable, "SELECT " + q("id") + ", " + q("name") + " FROM " + gt + " LIMIT 1", false})
	}
	return qs, nil
}

// groupsQuery is one indexed query: the membership rows of one user
// (Django indexes auth_user_groups.user_id, and makes (user_id,
// group_id) unique) joined to the groups by primary key, filtered by name.
func groupsQuery(d dialect, groupTable, memberTable string, n int) string {
	q := d.quote
	var in strings.Builder
	for i := range n {
		if i > 0 {
			in.WriteString(", ")
		}
		in.WriteString(d.param(i + 2))
	}
	return "SELECT g." + q("name") + " FROM " + memberTable + " m JOIN " + groupTable + " g ON g." + q("id") + " = m." + q("group_id") +
		" WHERE m." + q("user_id") + " = " + d.param(1) + " AND g." + q("name") + " IN (" + in.String() + ")"
}

// groupArgs are the group query's parameters: the user's primary key (an
// integer for Django's AutoField), then the group names.
func groupArgs(q *queries, userID string) []any {
	args := make([]any, 0, 1+len(q.groupNames))
	args = append(args, userArg(userID))
	for _, g := range q.groupNames {
		args = append(args, g)
	}
	return args
}

// userArg is a user id as a query parameter: an integer when it is one
// (Django's AutoField), else the string (a UUID primary key, say).
func userArg(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// openStore makes the store for o.Database. It does not connect: a
// database that is down at start must not stop maintgate from starting.
func openStore(o *Options) (store, error) {
	d, err := dialectOf(o.Database)
	if err != nil {
		return nil, err
	}
	q, err := buildQueries(d, o)
	if err != nil {
		return nil, err
	}
	if d.name == "postgres" {
		return openPostgres(o.Database, o, q)
	}
	return openSQL(d, o, q)
}

func dialectOf(database string) (dialect, error) {
	scheme, _, _ := strings.Cut(database, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return dialectPostgres, nil
	case "sqlite", "file":
		return dialectSQLite, nil
	case "mysql", "mariadb":
		return dialectMySQL, nil
	case "":
		return dialect{}, errors.New("no database URL (postgres://…, sqlite:/path or mysql://…)")
	default:
		return dialect{}, fmt.Errorf("database URL scheme %q: want postgres://, postgresql://, sqlite:, file: or mysql://", scheme)
	}
}
