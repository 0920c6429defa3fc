package testsvc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server run from a temporary data directory,
// listening on 127.0.0.1 only, trusting every local connection.
type Postgres struct {
	URL  string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	Port int

	bin  string
	dir  string
	cred *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
	ret chan error // the running server's exit status
}

// StartPostgres starts a PostgreSQL server for this test and returns its
// URL; it is stopped in t.Cleanup.
func StartPostgres(t testing.TB) string {
	return NewPostgres(t).URL
}

// PostgresBin returns the directory holding initdb and postgres: $PGBIN,
// else the newest /usr/lib/postgresql/*/bin (Debian), else the directory
// of initdb on PATH.
func PostgresBin() (string, error) {
	if d := os.Getenv("PGBIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			return "", fmt.Errorf("PGBIN=%s: no postgres binary there: %v", d, err)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (install Debian package postgresql, or set PGBIN)")
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// NewPostgres initialises a data directory and starts the server. A
// missing PostgreSQL fails the test under CI and skips it elsewhere.
func NewPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := PostgresBin()
	if err != nil {
		Missing(t, err.Error())
	}
	cred, _, err := serviceUser("postgres")
	if err != nil {
		Missing(t, err.Error())
	}
	p := &Postgres{bin: bin, cred: cred}
	p.dir = serviceDir(t, "maintgate-pg-", cred)

	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"-D", p.data(), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = sysProcAttr(cred)
	initdb.Dir = p.dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() { p.stop(syscall.SIGQUIT) })
	var lastErr error
	for range 3 { // the free port can be taken between FreePort and bind
		p.Port = FreePort(t)
		p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
		if lastErr = p.start(); lastErr == nil {
			return p
		}
	}
	t.Fatalf("start postgres: %v", lastErr)
	return nil
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }
func (p *Postgres) log() string  { return filepath.Join(p.dir, "postgres.log") }

// Start starts the server again after Stop, on the same port and data.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatalf("restart postgres: %v", err)
	}
}

// Stop shuts the server down (fast shutdown: open connections are cut)
// and waits until it has exited.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	p.stop(syscall.SIGINT)
}

func (p *Postgres) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("already running")
	}
	logf, err := os.OpenFile(p.log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(p.bin, "postgres"),
		"-D", p.data(),
		"-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=40",
		"-c", "shared_buffers=16MB",
	)
	cmd.SysProcAttr = sysProcAttr(p.cred)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	ret := make(chan error, 1)
	go func() { ret <- cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL)
		if err == nil {
			conn.Close(ctx)
			cancel()
			break
		}
		cancel()
		select {
		case werr := <-ret:
			return fmt.Errorf("postgres exited: %v\n%s", werr, tail(p.log(), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-ret
			return fmt.Errorf("postgres not ready after 30s: %v\n%s", err, tail(p.log(), 2000))
		}
	}
	p.cmd, p.ret = cmd, ret
	return nil
}

// stop signals the server (SIGINT fast shutdown, SIGQUIT immediate) and
// waits for it to exit, killing it after 10 s.
func (p *Postgres) stop(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.ret:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.ret
	}
	p.cmd, p.ret = nil, nil
}

// CreateDatabase creates a new, empty database and returns its URL.
func (p *Postgres) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		t.Fatalf("connect postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}

// Exec runs SQL statements on the named database (empty: postgres), for
// test setup such as revoking a grant or renaming a table.
func (p *Postgres) Exec(t testing.TB, database string, sql ...string) {
	t.Helper()
	if database == "" {
		database = "postgres"
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, database)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect postgres: %v", err)
	}
	defer conn.Close(ctx)
	for _, q := range sql {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("postgres %q: %v", q, err)
		}
	}
}
