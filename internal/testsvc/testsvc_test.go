package testsvc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// echoServer answers every line with itself.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string, timeout time.Duration) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	start := time.Now()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line != "ping\n" {
		return 0, errors.New("echo: " + line)
	}
	return time.Since(start), nil
}

func TestProxy(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	if _, err := roundTrip(p.Addr, time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.SetDelay(100 * time.Millisecond)
	if d, err := roundTrip(p.Addr, 2*time.Second); err != nil || d < 200*time.Millisecond {
		t.Errorf("with 100ms delay: round trip %v, %v; want at least 200ms", d, err)
	}
	p.SetDelay(0)
	p.SetBlackhole(true)
	if _, err := roundTrip(p.Addr, 200*time.Millisecond); err == nil {
		t.Error("a round trip through a blackhole succeeded")
	}
	p.SetBlackhole(false)
	if _, err := roundTrip(p.Addr, time.Second); err != nil {
		t.Errorf("after the blackhole: %v", err)
	}
	if p.Accepted() != 4 {
		t.Errorf("accepted %d connections, want 4", p.Accepted())
	}
}

func TestPostgresStopStart(t *testing.T) {
	pg := NewPostgres(t)
	url := pg.CreateDatabase(t, "stopstart")
	pg.Exec(t, "stopstart", "CREATE TABLE t (x int)", "INSERT INTO t VALUES (42)")
	query := func() (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return 0, err
		}
		defer c.Close(ctx)
		var x int
		return x, c.QueryRow(ctx, "SELECT x FROM t").Scan(&x)
	}
	if x, err := query(); err != nil || x != 42 {
		t.Fatalf("query = %d, %v", x, err)
	}
	pg.Stop(t)
	if _, err := query(); err == nil {
		t.Fatal("query succeeded with the server stopped")
	}
	pg.Start(t)
	if x, err := query(); err != nil || x != 42 {
		t.Fatalf("after restart: query = %d, %v", x, err)
	}
}

func TestTestdata(t *testing.T) {
	p := Testdata("mksessions.py")
	if !filepath.IsAbs(p) {
		t.Errorf("Testdata = %q, not absolute", p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Error(err)
	}
}
