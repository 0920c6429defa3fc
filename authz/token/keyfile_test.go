package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/regfile"
	"github.com/maintgate/maintgate/internal/regfile/regfiletest"
)

// TestLoadKeyHostileFile: a key path that names a FIFO, /dev/zero, a
// directory or a socket is an error naming the path and the type, at once:
// the map's watcher calls LoadKey and must never block in it.
func TestLoadKeyHostileFile(t *testing.T) {
	for typ, p := range regfiletest.Hostile(t, t.TempDir()) {
		var err error
		regfiletest.Within(t, 5*time.Second, "LoadKey "+typ, func() { _, err = LoadKey(p) })
		if !errors.Is(err, regfile.ErrNotRegular) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: err = %v; want one naming %s and %q", typ, err, p, typ)
		}
	}
}
