package flagfile

// ack.go: the acknowledgement file, through which `maintgate on` and
// `off` learn that the running map has applied the flag they wrote. The
// map follows the flags' directories with inotify and applies a change
// within a millisecond or so, but "soon" is not "before the next request":
// the operator's next request may reach the map before its watcher ran.
// So on and off wait (bounded) until the map says it has read the flag
// file as it is now; the request that follows is then decided by it.
//
// The file sits beside the state map (the one directory the map is known
// to write), is written by rename and without fsync (it says what one
// process holds in memory; nothing needs it after a crash), and holds:
//
//	# comment lines
//	pid 1234
//	site default 2049:1311:100644:312:1764748800123456789:1764748800123456789
//	site shop absent
//
// one "site" line per site, with the version (Version.String) of the flag
// file the map has applied.

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/maintgate/maintgate/internal/regfile"
)

// Version is one version of a flag file, from one stat: a rename, a
// rewrite in place, a touch or a chmod each make another. Err: the stat
// failed for another reason than a missing file.
type Version struct {
	Exists, Err        bool
	Dev, Ino           uint64
	Mode               uint32
	Size, Mtime, Ctime int64
}

// StatVersion is the version of the file at path now.
func StatVersion(path string) Version {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return Version{Err: err != syscall.ENOENT && err != syscall.ENOTDIR}
		}
		return Version{Exists: true, Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
	}
}

// String is the version as the acknowledgement file writes it.
func (v Version) String() string {
	switch {
	case v.Err:
		return "unreadable"
	case !v.Exists:
		return "absent"
	}
	return fmt.Sprintf("%d:%d:%o:%d:%d:%d", v.Dev, v.Ino, v.Mode, v.Size, v.Mtime, v.Ctime)
}

// SiteVersion is one site's flag as a map applied it.
type SiteVersion struct {
	Name    string
	Version Version
}

// AckPath is where the map that keeps the state map stateMap writes its
// acknowledgement; "" when there is no state map.
func AckPath(stateMap string) string {
	if stateMap == "" {
		return ""
	}
	return stateMap + ".ack"
}

// Ack is an acknowledgement file as read: the map's pid and, by site,
// the version (Version.String) of the flag it has applied.
type Ack struct {
	PID   int
	Sites map[string]string
}

// WriteAck writes the acknowledgement of process pid for sites.
func WriteAck(path string, pid int, sites []SiteVersion) error {
	var b bytes.Buffer
	b.WriteString("# maintgate map: the flag files this process has applied; maintgate on/off wait for it. Do not edit.\n")
	fmt.Fprintf(&b, "pid %d\n", pid)
	for _, s := range sites {
		fmt.Fprintf(&b, "site %s %s\n", s.Name, s.Version)
	}
	return writeNoSync(path, b.Bytes())
}

// ReadAck reads the acknowledgement at path; an error when it is missing
// or unreadable (no map has written one: nobody to wait for).
func ReadAck(path string) (Ack, error) {
	data, err := regfile.Read(path, stateMax)
	if err != nil {
		return Ack{}, err
	}
	a := Ack{Sites: map[string]string{}}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "pid":
			a.PID, _ = strconv.Atoi(f[1])
		case len(f) == 3 && f[0] == "site":
			a.Sites[f[1]] = f[2]
		}
	}
	if a.PID <= 0 {
		return Ack{}, fmt.Errorf("acknowledgement %s: no pid line", path)
	}
	return a, nil
}

// writeNoSync is WriteAtomic without the fsync, which costs milliseconds
// on a disk and buys nothing for a file that describes a live process.
func writeNoSync(path string, data []byte) error { return WriteCopy(path, data, 0o644) }

// WriteCopy is WriteAtomic without the fsync: for a file that is a copy
// of something kept elsewhere and rewritten from it (the acknowledgement,
// the fleet's mirror of Redis), where a reader must see the old file or
// the new one whole, but a crash may lose the last write.
func WriteCopy(path string, data []byte, mode os.FileMode) error {
	return writeRenamed(path, data, mode, false)
}
