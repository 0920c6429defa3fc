package session

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqlStore reads Django's tables from SQLite or MySQL through
// database/sql, with a bounded pool and prepared statements.
type sqlStore struct {
	db  *sql.DB
	d   dialect
	q   queries
	loc *time.Location // zone of naive datetimes

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// Connections idle longer, or older, than this are closed rather than
// reused: servers and firewalls drop idle connections silently.
const (
	maxIdle = 5 * time.Minute
	maxLife = time.Hour
)

// openSQL opens SQLite and MySQL databases, with a pool of o.MaxConns:
//
//	sqlite:/path/db.sqlite3, sqlite:///abs/path, sqlite:relative/path, file:/path
//	mysql://user:pass@host:port/db?tls=true&socket=/run/mysqld/mysqld.sock
func openSQL(d dialect, o *Options, q queries) (*sqlStore, error) {
	var db *sql.DB
	if d.name == "sqlite" {
		dsn, err := sqliteDSN(o.Database)
		if err != nil {
			return nil, err
		}
		if db, err = sql.Open("sqlite", dsn); err != nil {
			return nil, err
		}
	} else {
		cfg, err := mysqlConfig(o.Database)
		if err != nil {
			return nil, err
		}
		// A table lock (LOCK TABLES, an ALTER TABLE's metadata lock)
		// makes a read wait lock_wait_timeout, a year by default: end
		// the wait on the server, with error 1205, before the query's
		// context ends it by dropping the connection.
		cfg.Params = map[string]string{"lock_wait_timeout": strconv.Itoa(max(1, int(serverTimeout(o.QueryTimeout, 8).Seconds())))}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("database URL: %v", err)
		}
		db = sql.OpenDB(c)
	}
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(maxIdle)
	db.SetConnMaxLifetime(maxLife)
	return &sqlStore{db: db, d: d, q: q, loc: o.Location, stmts: map[string]*sql.Stmt{}}, nil
}

// serverTimeout is tenths/10 of the query timeout: a wait the server ends
// itself (lock_timeout, lock_wait_timeout) before the lookup's context
// does, so the error says "locked" and the connection stays usable.
func serverTimeout(query time.Duration, tenths int64) time.Duration {
	return query * time.Duration(tenths) / 10
}

// sqliteDSN opens the file read-only: maintgate never writes, and must not
// create an empty database where the application's should be.
func sqliteDSN(database string) (string, error) {
	var path string
	if rest, ok := strings.CutPrefix(database, "sqlite:"); ok {
		// A plain path, not unescaped; sqlite:///abs/path is one too.
		path = rest
		if strings.HasPrefix(path, "//") {
			path = path[2:]
			if !strings.HasPrefix(path, "/") {
				return "", fmt.Errorf("database URL %q: want sqlite:/abs/path or sqlite:///abs/path", database)
			}
		}
	} else { // file:/path, file:///path, file:relative (query ignored)
		u, err := url.Parse(database)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return "", fmt.Errorf("database URL %q: not a local file: URI", database)
		}
		path = u.Path
		if u.Opaque != "" {
			if path, err = url.PathUnescape(u.Opaque); err != nil {
				return "", fmt.Errorf("database URL %q: %v", database, err)
			}
		}
	}
	if path == "" {
		return "", fmt.Errorf("database URL %q: no file name", database)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "2000") // wait out Django's write locks
	q.Set("_query_only", "1")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode(), nil
}

func mysqlConfig(database string) (*mysql.Config, error) {
	u, err := url.Parse(database)
	if err != nil {
		return nil, fmt.Errorf("database URL: %v", redact(err.Error(), database))
	}
	cfg := mysql.NewConfig()
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" {
		return nil, errors.New("database URL: mysql URL names no database (mysql://user:pass@host:3306/dbname)")
	}
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" && u.Host != "" {
		cfg.Addr = u.Host + ":3306"
	}
	var opts []mysql.Option
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "socket":
			cfg.Net, cfg.Addr = "unix", v
		case "tls":
			cfg.TLSConfig = v
		case "charset":
			opts = append(opts, mysql.Charset(v, ""))
		default:
			return nil, fmt.Errorf("database URL: unknown mysql parameter %q (known: socket, tls, charset)", k)
		}
	}
	if cfg.Addr == "" {
		return nil, errors.New("database URL: mysql URL names no host (or ?socket=/path)")
	}
	// Django stores UTC in DATETIME columns when USE_TZ is on; read them as
	// naive wall-clock times and place them with Options.Location.
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.Timeout = 5 * time.Second
	if err := cfg.Apply(opts...); err != nil {
		return nil, fmt.Errorf("database URL: %v", err)
	}
	return cfg, nil
}

// redact keeps a password in a URL out of an error message.
func redact(msg, database string) string {
	u, err := url.Parse(database)
	if err != nil || u.User == nil {
		return msg
	}
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}

func (s *sqlStore) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	st := s.stmts[q]
	s.mu.Unlock()
	if st != nil {
		return st, nil
	}
	// Prepared without the lock: a database that hangs must not make every
	// other lookup queue here.
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.stmts[q]; old != nil {
		st.Close()
		return old, nil
	}
	s.stmts[q] = st
	return st, nil
}

func (s *sqlStore) queryRow(ctx context.Context, q string, dest []any, args ...any) error {
	var row *sql.Row
	if s.d.prepared {
		st, err := s.stmt(ctx, q)
		if err != nil {
			return err
		}
		row = st.QueryRowContext(ctx, args...)
	} else {
		row = s.db.QueryRowContext(ctx, q, args...)
	}
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound
	}
	return err
}

func (s *sqlStore) session(ctx context.Context, key string) (string, time.Time, error) {
	var data, exp any
	if err := s.queryRow(ctx, s.q.session, []any{&data, &exp}, key); err != nil {
		return "", time.Time{}, err
	}
	t, err := s.toTime(exp)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s.expire_date: %w", s.q.sessionTable, err)
	}
	return toString(data), t, nil
}

func (s *sqlStore) user(ctx context.Context, id string) (userRow, error) {
	return s.userQuery(ctx, s.q.user, userArg(id))
}

func (s *sqlStore) userByName(ctx context.Context, name string) (userRow, error) {
	return s.userQuery(ctx, s.q.userByName, name)
}

func (s *sqlStore) username(ctx context.Context, id string) (string, error) {
	var name any
	if err := s.queryRow(ctx, s.q.username, []any{&name}, userArg(id)); err != nil {
		return "", err
	}
	return toString(name), nil
}

func (s *sqlStore) userQuery(ctx context.Context, q string, arg any) (userRow, error) {
	var id, pw, active, super, staff any
	dest := []any{&id, &pw, &active, &super, &staff}
	if !s.q.staff {
		dest = dest[:4]
	}
	if err := s.queryRow(ctx, q, dest, arg); err != nil {
		return userRow{}, err
	}
	return userRow{ID: toString(id), Password: toString(pw), Active: toBool(active), Superuser: toBool(super), Staff: toBool(staff)}, nil
}

func (s *sqlStore) groups(ctx context.Context, userID string) ([]string, error) {
	args := groupArgs(&s.q, userID)
	var rows *sql.Rows
	var err error
	if s.d.prepared {
		var st *sql.Stmt
		if st, err = s.stmt(ctx, s.q.groups); err != nil {
			return nil, err
		}
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = s.db.QueryContext(ctx, s.q.groups, args...)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name any
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		names = append(names, toString(name))
	}
	return names, rows.Err()
}

func (s *sqlStore) ping(ctx context.Context, sessionTable bool) error {
	if err := s.db.PingContext(ctx); err != nil {
		return err
	}
	for _, pr := range s.q.probes {
		if pr.session && !sessionTable {
			continue
		}
		rows, err := s.db.QueryContext(ctx, pr.q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err != nil {
			return fmt.Errorf("table %s is not readable: %w", pr.table, err)
		}
	}
	return nil
}

func (s *sqlStore) close() error {
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = map[string]*sql.Stmt{}
	s.mu.Unlock()
	return s.db.Close()
}

// Naive datetime text as SQLite and MySQL hold it.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
}

func (s *sqlStore) toTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		if s.d.naive {
			// The driver read a zoneless value as UTC: keep the wall clock,
			// place it in the zone Django wrote it in.
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), s.loc), nil
		}
		return t, nil
	case string, []byte:
		str := toString(t)
		for _, l := range timeLayouts {
			if r, err := time.ParseInLocation(l, str, s.loc); err == nil {
				return r, nil
			}
		}
		return time.Time{}, fmt.Errorf("unreadable datetime %q", str)
	default:
		return time.Time{}, fmt.Errorf("unexpected datetime type %T", v)
	}
}

func toString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []byte:
		return string(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case nil:
		return ""
	default:
		return fmt.Sprint(t)
	}
}

func toBool(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case int64:
		return t != 0
	case []byte, string:
		switch strings.ToLower(toString(t)) {
		case "1", "t", "true", "y", "yes", "on":
			return true
		}
	}
	return false
}
