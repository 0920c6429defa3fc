package testsvc

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a MariaDB (or MySQL) server run from a temporary data
// directory on 127.0.0.1, with grant tables off: any user name connects
// without a password.
type MariaDB struct {
	URL  string // mysql://root@127.0.0.1:PORT/test
	Port int

	dir string
	cmd *exec.Cmd
	ret chan error
}

// fast trades durability for speed: these servers hold test data only.
var mariadbFast = []string{
	"--innodb-log-file-size=4M",
	"--innodb-buffer-pool-size=16M",
	"--innodb-flush-method=nosync",
	"--innodb-flush-log-at-trx-commit=0",
	"--skip-innodb-doublewrite",
}

// StartMariaDB starts a MariaDB server with an empty database "test" and
// returns its URL; it is stopped in t.Cleanup. A missing server fails the
// test under CI and skips it elsewhere (Debian package mariadb-server).
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	server, err1 := exec.LookPath("mariadbd")
	if err1 != nil {
		server, err1 = exec.LookPath("/usr/sbin/mariadbd")
	}
	install, err2 := exec.LookPath("mariadb-install-db")
	if err1 != nil || err2 != nil {
		Missing(t, "no mariadbd or mariadb-install-db (install Debian package mariadb-server)")
	}
	cred, uname, err := serviceUser("mysql")
	if err != nil {
		Missing(t, err.Error())
	}
	m := &MariaDB{}
	m.dir = serviceDir(t, "maintgate-mariadb-", cred)
	data := filepath.Join(m.dir, "data")
	var runAs []string
	if cred != nil {
		// mariadbd started as root switches to this user itself.
		runAs = []string{"--user=" + uname}
	}

	// A temporary directory of its own: with the default /tmp, servers
	// bootstrapped at once by parallel test packages failed ("Could not
	// remove temporary table '/tmp/#sql-temptable-…'", then "Unknown table
	// 'mysql.tmp_user_sys'"). Sticky and world-writable, for a server that
	// switches to another user.
	tmp := filepath.Join(m.dir, "tmp")
	if err := os.Mkdir(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o1777); err != nil { // past the umask
		t.Fatal(err)
	}
	mariadbTmp := "--tmpdir=" + tmp
	args := append([]string{"--no-defaults", "--datadir=" + data, mariadbTmp,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, runAs...)
	args = append(args, mariadbFast...)
	inst := exec.Command(install, args...)
	inst.Dir = m.dir
	if out, err := inst.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}

	t.Cleanup(m.stop)
	var lastErr error
	for range 3 {
		m.Port = FreePort(t)
		if lastErr = m.start(server, data, runAs); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("start mariadb: %v", lastErr)
	}
	db := m.open("")
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE test CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("mariadb create database: %v", err)
	}
	m.URL = fmt.Sprintf("mysql://root@127.0.0.1:%d/test", m.Port)
	return m
}

func (m *MariaDB) log() string { return filepath.Join(m.dir, "mariadb.log") }

func (m *MariaDB) open(dbname string) *sql.DB {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = fmt.Sprintf("127.0.0.1:%d", m.Port)
	cfg.DBName = dbname
	cfg.Timeout = time.Second
	c, _ := mysql.NewConnector(cfg)
	return sql.OpenDB(c)
}

func (m *MariaDB) start(server, data string, runAs []string) error {
	logf, err := os.OpenFile(m.log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + filepath.Join(m.dir, "tmp"),
		"--port=" + strconv.Itoa(m.Port), "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(m.dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(m.dir, "mysqld.pid"),
		"--skip-grant-tables", "--skip-log-bin", "--skip-name-resolve"}, runAs...)
	args = append(args, mariadbFast...)
	cmd := exec.Command(server, args...)
	cmd.SysProcAttr = sysProcAttr(nil)
	cmd.Dir = m.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	ret := make(chan error, 1)
	go func() { ret <- cmd.Wait() }()
	db := m.open("")
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-ret:
			return fmt.Errorf("mariadbd exited: %v\n%s", werr, tail(m.log(), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-ret
			return fmt.Errorf("mariadb not ready after 30s: %v\n%s", err, tail(m.log(), 2000))
		}
	}
	m.cmd, m.ret = cmd, ret
	return nil
}

func (m *MariaDB) stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.ret:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-m.ret
	}
	m.cmd = nil
}
