package fleet

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeRenamed writes data to path through a temporary file beside it
// and a rename, without fsync: a reader sees the old file or the new
// one, whole. No fsync, because the mirror's files are copies of Redis
// rewritten at every resync, and an fsync per host per change put the
// disk (100 hosts' worth on one test machine) in the switch time. After
// a crash a flag file is the old one, the new one, or empty; empty means
// maintenance on, and the next sync puts Redis's bytes back.
// (flagfile's unsynced writer, for the acknowledgement, is not exported.)
func writeRenamed(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
