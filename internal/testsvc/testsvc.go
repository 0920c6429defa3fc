// Package testsvc starts the real services that maintgate's tests talk to:
// a PostgreSQL or MariaDB server on 127.0.0.1 in a temporary directory, a
// TCP proxy that can slow down or cut off a connection, and Debian's Django
// (/usr/bin/python3 with python3-django) to make real sessions.
//
// Every service is stopped and its directory removed in t.Cleanup.
//
// A missing tool fails the test when the environment variable CI is set
// (CI=true): a CI run must prove what it claims, never skip it. Outside CI
// the test is skipped with a message naming what is missing and the Debian
// package that provides it.
package testsvc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// InCI reports whether the tests run under CI (CI set, and not "false"
// or "0"), where a missing tool is a failure rather than a skip.
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0"
}

// Missing stops the test because a tool it needs is not there: t.Fatal
// under CI, t.Skip otherwise. what names the tool and how to get it.
func Missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI: required test tool missing: %s", what)
	}
	t.Skipf("skipped: %s (CI=true makes this a failure)", what)
}

// Testdata returns the absolute path of a file under this package's
// testdata directory, wherever the calling test runs from.
func Testdata(name string) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testsvc: runtime.Caller failed")
	}
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serviceUser returns the credential to run a database server under. The
// servers refuse to run as root, so as root they run as the named system
// user (postgres, mysql), or nobody when that user does not exist; as any
// other user they run as that user (nil credential, empty name).
func serviceUser(name string) (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	for _, n := range []string{name, "nobody"} {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, n, nil
	}
	return nil, "", fmt.Errorf("running as root and no %q or nobody user to run the server as", name)
}

// serviceDir makes a temporary directory owned by cred (when set). It is
// not under t.TempDir: that directory is 0700 root, which the unprivileged
// server user cannot enter.
func serviceDir(t testing.TB, prefix string, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("%s temp dir: %v", prefix, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("chown %s: %v", dir, err)
		}
	}
	return dir
}

// tail returns the last n bytes of a log file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log)"
		}
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
