package regfile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostile makes, in dir, one path per kind of file an operator (or an
// attacker with write access to the directory) may leave where a small
// regular file is expected, and returns them by name.
func hostile(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths := map[string]string{}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	paths["named pipe (FIFO)"] = fifo
	zero := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	paths["character device"] = zero
	d := filepath.Join(dir, "dir")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	paths["directory"] = d
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	paths["socket"] = sock
	return paths
}

// within fails the test when f takes longer than d: a blocked open must
// fail the test, not hang it.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %s", what, d)
	}
}

func TestReadRefusesAnythingButARegularFile(t *testing.T) {
	for typ, p := range hostile(t, t.TempDir()) {
		var err error
		within(t, 5*time.Second, typ, func() { _, err = Read(p, 1<<20) })
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), typ) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v; want one naming the path and %q", typ, err, typ)
		}
	}
}

func TestReadBoundsTheSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 1<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p, 1<<20)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1 MiB") || !strings.Contains(err.Error(), p) {
		t.Errorf("over the limit: err = %v", err)
	}
	if b, err := Read(p, 1<<20+1); err != nil || len(b) != 1<<20+1 {
		t.Errorf("at the limit: %d bytes, err = %v", len(b), err)
	}
}

func TestReadRegularAndMissing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("hello\n"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(p, link)
	for _, q := range []string{p, link} {
		if b, err := Read(q, 64); err != nil || string(b) != "hello\n" {
			t.Errorf("%s: %q, %v", q, b, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "gone"), 64); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
