package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore reads Django's tables from PostgreSQL through a pgxpool of at
// most Options.MaxConns connections, opened on first use (a server that
// is down at start costs nothing until a lookup needs it). Each connection
// prepares and caches its statements (pgx's default
// QueryExecModeCacheStatement) and prepares one again after it failed (a
// migration changed its table); a connection idle for a second is pinged
// before it is used again, so one cut by a server restart is replaced.
type pgStore struct {
	pool *pgxpool.Pool
	q    queries
}

func openPostgres(database string, o *Options, q queries) (*pgStore, error) {
	cfg, err := pgxpool.ParseConfig(database)
	if err != nil {
		return nil, fmt.Errorf("database URL: %v", redact(err.Error(), database))
	}
	cfg.MaxConns = int32(o.MaxConns)
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = maxIdle
	cfg.MaxConnLifetime = maxLife
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 5 * time.Second
	}
	// A lookup blocked by a lock (LOCK TABLE, an ALTER TABLE during a
	// migration) waits without end by default. The server ends the wait
	// first, with 55P03 lock_not_available, then the statement with 57014:
	// a typed failure, on a connection that stays usable. When the
	// lookup's context ends it instead, pgx cuts the connection.
	// Settings from the URL (options=-c …) win.
	for name, tenths := range map[string]int64{"lock_timeout": 8, "statement_timeout": 9} {
		if _, set := cc.RuntimeParams[name]; !set {
			cc.RuntimeParams[name] = strconv.FormatInt(serverTimeout(o.QueryTimeout, tenths).Milliseconds(), 10)
		}
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("database URL: %v", redact(err.Error(), database))
	}
	return &pgStore{pool: pool, q: q}, nil
}

func (p *pgStore) session(ctx context.Context, key string) (string, time.Time, error) {
	var data string
	var exp time.Time
	err := p.pool.QueryRow(ctx, p.q.session, key).Scan(&data, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, errNotFound
	}
	return data, exp, err
}

func (p *pgStore) user(ctx context.Context, id string) (userRow, error) {
	return p.userQuery(ctx, p.q.user, userArg(id))
}

func (p *pgStore) userByName(ctx context.Context, name string) (userRow, error) {
	return p.userQuery(ctx, p.q.userByName, name)
}

func (p *pgStore) username(ctx context.Context, id string) (string, error) {
	var name string
	err := p.pool.QueryRow(ctx, p.q.username, userArg(id)).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errNotFound
	}
	return name, err
}

func (p *pgStore) userQuery(ctx context.Context, q string, arg any) (userRow, error) {
	var u userRow
	var id any
	dest := []any{&id, &u.Password, &u.Active, &u.Superuser, &u.Staff}
	if !p.q.staff {
		dest = dest[:4]
	}
	err := p.pool.QueryRow(ctx, q, arg).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return userRow{}, errNotFound
	}
	u.ID = toString(id)
	return u, err
}

func (p *pgStore) groups(ctx context.Context, userID string) ([]string, error) {
	rows, err := p.pool.Query(ctx, p.q.groups, groupArgs(&p.q, userID)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p *pgStore) ping(ctx context.Context, sessionTable bool) error {
	for _, pr := range p.q.probes {
		if pr.session && !sessionTable {
			continue
		}
		rows, err := p.pool.Query(ctx, pr.q)
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			return fmt.Errorf("table %s is not readable: %w", pr.table, err)
		}
	}
	return nil
}

// close waits for the connections in use to be released: call it after
// the lookups have stopped.
func (p *pgStore) close() error {
	p.pool.Close()
	return nil
}
