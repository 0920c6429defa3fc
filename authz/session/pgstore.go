package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgStore reads Django's tables from PostgreSQL through pgx, with a small
// pool of its own: at most maxConns connections, opened on first use (a
// server that is down at start costs nothing until a lookup needs it).
// Each connection prepares and caches its statements (pgx's default
// QueryExecModeCacheStatement), and prepares one again after it failed.
//
// Why not pgxpool: it needs github.com/jackc/puddle/v2, which go.mod does
// not list yet (go.sum does); the pgxpool version of this file is ready
// (issue 9) and replaces this one once go.mod requires puddle.
type pgStore struct {
	cfg *pgx.ConnConfig
	q   queries

	sem chan struct{} // one token per connection in use

	mu     sync.Mutex
	idle   []pgIdle
	closed bool
}

type pgIdle struct {
	c     *pgx.Conn
	since time.Time
	born  time.Time
}

func openPostgres(database string, o *Options, q queries) (*pgStore, error) {
	cfg, err := pgx.ParseConfig(database)
	if err != nil {
		return nil, fmt.Errorf("database URL: %v", redact(err.Error(), database))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	// A lookup blocked by a lock (LOCK TABLE, an ALTER TABLE during a
	// migration) waits without end by default. The server ends the wait
	// first, with 55P03 lock_not_available, then the statement with 57014:
	// a typed failure, on a connection that stays usable. When the
	// lookup's context ends it instead, pgx cuts the connection.
	// Settings from the URL (options=-c …) win.
	for name, tenths := range map[string]int64{"lock_timeout": 8, "statement_timeout": 9} {
		if _, set := cfg.RuntimeParams[name]; !set {
			cfg.RuntimeParams[name] = strconv.FormatInt(serverTimeout(o.QueryTimeout, tenths).Milliseconds(), 10)
		}
	}
	return &pgStore{cfg: cfg, q: q, sem: make(chan struct{}, o.MaxConns)}, nil
}

// acquire returns a connection and whether it was reused from the pool.
func (p *pgStore) acquire(ctx context.Context) (*pgx.Conn, time.Time, bool, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, time.Time{}, false, ctx.Err()
	}
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		it := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if it.c.IsClosed() || now.Sub(it.since) > maxIdle || now.Sub(it.born) > maxLife {
			go it.c.Close(context.Background())
			continue
		}
		p.mu.Unlock()
		return it.c, it.born, true, nil
	}
	closed := p.closed
	p.mu.Unlock()
	if closed {
		<-p.sem
		return nil, time.Time{}, false, errors.New("store closed")
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, time.Time{}, false, err
	}
	return c, now, false, nil
}

// release puts a healthy connection back, closes a broken one.
func (p *pgStore) release(c *pgx.Conn, born time.Time, broken bool) {
	defer func() { <-p.sem }()
	if broken || c.IsClosed() {
		c.Close(context.Background())
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go c.Close(context.Background())
		return
	}
	p.idle = append(p.idle, pgIdle{c: c, since: time.Now(), born: born})
}

// do runs f on a connection. A reused connection that fails is closed and
// f is tried once more on a new one: the server may have restarted since
// the connection was last used, and the queries only read.
func (p *pgStore) do(ctx context.Context, f func(*pgx.Conn) error) error {
	for attempt := 0; ; attempt++ {
		c, born, reused, err := p.acquire(ctx)
		if err != nil {
			return err
		}
		err = f(c)
		// No row, or an error the server answered (a missing table, a
		// permission), leaves the connection as good as it was.
		var pgErr *pgconn.PgError
		broken := err != nil && !errors.Is(err, pgx.ErrNoRows) && !errors.As(err, &pgErr) ||
			c.IsClosed() // e.g. FATAL 57P01, the server shutting down
		p.release(c, born, broken)
		if !broken || !reused || attempt > 0 || ctx.Err() != nil {
			return err
		}
	}
}

func (p *pgStore) session(ctx context.Context, key string) (string, time.Time, error) {
	var data string
	var exp time.Time
	err := p.do(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, p.q.session, key).Scan(&data, &exp)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, errNotFound
	}
	return data, exp, err
}

func (p *pgStore) user(ctx context.Context, id string) (userRow, error) {
	var arg any = id
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		arg = n // an integer primary key (Django's AutoField)
	}
	return p.userQuery(ctx, p.q.user, arg)
}

func (p *pgStore) userByName(ctx context.Context, name string) (userRow, error) {
	return p.userQuery(ctx, p.q.userByName, name)
}

func (p *pgStore) userQuery(ctx context.Context, q string, arg any) (userRow, error) {
	var u userRow
	var id any
	err := p.do(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, q, arg).Scan(&id, &u.Password, &u.Active, &u.Superuser)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return userRow{}, errNotFound
	}
	u.ID = toString(id)
	return u, err
}

func (p *pgStore) ping(ctx context.Context, sessionTable bool) error {
	return p.do(ctx, func(c *pgx.Conn) error {
		probe := func(table, q string) error {
			rows, err := c.Query(ctx, q)
			if err == nil {
				for rows.Next() {
				}
				rows.Close()
				err = rows.Err()
			}
			if err != nil {
				return fmt.Errorf("table %s is not readable: %w", table, err)
			}
			return nil
		}
		if sessionTable {
			if err := probe(p.q.sessionTable, p.q.pingSession); err != nil {
				return err
			}
		}
		return probe(p.q.userTable, p.q.pingUser)
	})
}

func (p *pgStore) close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, it := range idle {
		it.c.Close(ctx)
	}
	return nil
}
