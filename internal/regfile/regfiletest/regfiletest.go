// Package regfiletest makes the files that are not small regular files,
// for the tests of every reader that must refuse them at once (regfile
// itself, the flag file, the token key, the Django secret, the gate).
package regfiletest

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Hostile makes, in dir, one path per kind of file an operator (or anyone
// with write access to the directory) may leave where a small regular file
// is expected: a FIFO (open blocks), /dev/zero (read never ends), a
// directory and a socket. The keys are the types as regfile's errors name
// them.
func Hostile(t testing.TB, dir string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	mk := func(typ, name string, f func(p string) error) {
		p := filepath.Join(dir, name)
		if err := f(p); err != nil {
			t.Fatal(err)
		}
		paths[typ] = p
	}
	mk("named pipe (FIFO)", "fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) })
	mk("character device", "zero", func(p string) error { return os.Symlink("/dev/zero", p) })
	mk("directory", "dir", func(p string) error { return os.Mkdir(p, 0o755) })
	mk("socket", "sock", func(p string) error {
		l, err := net.Listen("unix", p)
		if err == nil {
			t.Cleanup(func() { l.Close() })
		}
		return err
	})
	return paths
}

// Within fails the test when f has not returned after d: a reader that
// blocks must fail its test, not stall it until the binary's timeout.
func Within(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %s", what, d)
	}
}
