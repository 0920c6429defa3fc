package session

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// failKind says how the database failed. The breaker (breaker.go) and the
// log level read it; nothing decides by an error's text.
type failKind uint8

const (
	// failError: the database answered with an error (a missing table, a
	// permission). Fast; queries go on, misses stop waiting.
	failError failKind = iota
	// failUnreachable: no connection (refused, reset, a file that cannot
	// be opened, the server shutting down).
	failUnreachable
	// failLocked: a lock held by someone else (a migration): SQLite's
	// SQLITE_BUSY/LOCKED, PostgreSQL's lock_timeout or a deadlock,
	// MySQL's lock wait timeout or a deadlock.
	failLocked
	// failTimeout: no answer in time (statement_timeout, the query
	// context, a network timeout).
	failTimeout
)

// prefix starts the Reason of a failed lookup; the error follows it.
func (k failKind) prefix() string {
	switch k {
	case failUnreachable:
		return "database unreachable: "
	case failLocked:
		return "database locked: "
	case failTimeout:
		return "database timed out: "
	default:
		return "database error: "
	}
}

// trips says whether this kind pauses queries: each of them would cost a
// connection for a long time, or answer nothing useful, until it is over.
func (k failKind) trips() bool { return k != failError }

// failure is a lookup that got no answer from the database.
type failure struct {
	kind   failKind
	err    error
	reason string // kind.prefix() and a short form of err
}

func newFailure(kind failKind, err error, msg string) *failure {
	return &failure{kind: kind, err: err, reason: kind.prefix() + msg}
}

// Error codes read by classify.
const (
	mysqlLockWaitTimeout   = 1205 // ER_LOCK_WAIT_TIMEOUT (row and metadata locks)
	mysqlDeadlock          = 1213 // ER_LOCK_DEADLOCK
	mysqlServerShutdown    = 1053 // ER_SERVER_SHUTDOWN
	mysqlTooManyConns      = 1040 // ER_CON_COUNT_ERROR
	mysqlStatementTime     = 1969 // MariaDB ER_STATEMENT_TIMEOUT (max_statement_time)
	mysqlMaxExecutionTime  = 3024 // MySQL ER_QUERY_TIMEOUT (max_execution_time)
	pgLockNotAvailable     = "55P03"
	pgDeadlock             = "40P01"
	pgQueryCanceled        = "57014" // statement_timeout, or a cancel request
	pgTooManyConnections   = "53300"
	pgConnectionException  = "08"  // class 08
	pgOperatorIntervention = "57P" // 57P01..57P05: shutting down, crashed, not yet accepting
)

// classify tells the kind of a database error. ctx is the lookup's own
// context: when it ran out, the error is a timeout whatever it says,
// unless the connection itself could not be made.
func classify(ctx context.Context, err error) failKind {
	var (
		pe *pgconn.PgError
		ce *pgconn.ConnectError
		me *mysql.MySQLError
		se *sqlite.Error
		ne net.Error
	)
	switch {
	case errors.As(err, &ce):
		return failUnreachable
	case errors.As(err, &pe):
		switch {
		case pe.Code == pgLockNotAvailable, pe.Code == pgDeadlock:
			return failLocked
		case pe.Code == pgQueryCanceled:
			return failTimeout
		case pe.Code == pgTooManyConnections,
			strings.HasPrefix(pe.Code, pgConnectionException), strings.HasPrefix(pe.Code, pgOperatorIntervention):
			return failUnreachable
		}
		return failError
	case errors.As(err, &me):
		switch me.Number {
		case mysqlLockWaitTimeout, mysqlDeadlock:
			return failLocked
		case mysqlStatementTime, mysqlMaxExecutionTime:
			return failTimeout
		case mysqlServerShutdown, mysqlTooManyConns:
			return failUnreachable
		}
		return failError
	case errors.As(err, &se):
		switch se.Code() & 0xff { // the primary code, without the extended bits
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return failLocked
		case sqlite3.SQLITE_INTERRUPT: // the context ended the query
			return failTimeout
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_IOERR:
			return failUnreachable
		}
		return failError
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return failTimeout
	case errors.As(err, &ne):
		if ne.Timeout() {
			return failTimeout
		}
		return failUnreachable
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return failUnreachable
	}
	return failError
}

// shortError keeps a reason on one short line.
func shortError(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
