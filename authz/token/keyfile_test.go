package token

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/regfile"
)

// TestLoadKeyHostileFile: a key path that names a FIFO, /dev/zero, a
// directory or a socket is an error naming the path and the type, at once:
// the map's watcher calls LoadKey and must never block in it.
func TestLoadKeyHostileFile(t *testing.T) {
	dir := t.TempDir()
	fifo, zero, sub, sock := filepath.Join(dir, "fifo"), filepath.Join(dir, "zero"), filepath.Join(dir, "dir"), filepath.Join(dir, "sock")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/dev/zero", zero)
	os.Mkdir(sub, 0o700)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for typ, p := range map[string]string{"named pipe (FIFO)": fifo, "character device": zero, "directory": sub, "socket": sock} {
		done := make(chan error, 1)
		go func() { _, err := LoadKey(p); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), typ) {
				t.Errorf("%s: err = %v; want one naming %s and %q", typ, err, p, typ)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: LoadKey still blocked after 5s", typ)
		}
	}
}
