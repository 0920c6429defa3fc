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
	// ping proves the tables are readable; the error names the table.
	ping(ctx context.Context, sessionTable bool) error
	close() error
}

type userRow struct {
	ID        string
	Password  string
	Active    bool
	Superuser bool
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

// queries are the statements for one dialect and set of table names.
type queries struct {
	session, user, userByName string
	pingSession, pingUser     string
	sessionTable, userTable   string // as configured, for messages
}

func buildQueries(d dialect, o *Options) (queries, error) {
	st, err := quoteTable(d, "session_table", o.SessionTable)
	if err != nil {
		return queries{}, err
	}
	ut, err := quoteTable(d, "user_table", o.UserTable)
	if err != nil {
		return queries{}, err
	}
	if !settings.ValidIdent(o.UsernameColumn) {
		return queries{}, fmt.Errorf("username column %q: not a column name", o.UsernameColumn)
	}
	q, p := d.quote, d.param(1)
	user := "SELECT " + q("id") + ", " + q("password") + ", " + q("is_active") + ", " + q("is_superuser")
	return queries{
		session:      "SELECT " + q("session_data") + ", " + q("expire_date") + " FROM " + st + " WHERE " + q("session_key") + " = " + p,
		user:         user + " FROM " + ut + " WHERE " + q("id") + " = " + p,
		userByName:   user + " FROM " + ut + " WHERE " + q(o.UsernameColumn) + " = " + p,
		pingSession:  "SELECT " + q("session_key") + ", " + q("session_data") + ", " + q("expire_date") + " FROM " + st + " LIMIT 1",
		pingUser:     user + ", " + q(o.UsernameColumn) + " FROM " + ut + " LIMIT 1",
		sessionTable: o.SessionTable,
		userTable:    o.UserTable,
	}, nil
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
