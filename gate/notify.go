package gate

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"unsafe"
)

// notifier wakes the watcher as soon as a flag file changes, through
// inotify on the flag files' directories (a flag is replaced by rename,
// removed, or touched: a watch on the file itself would follow the old
// inode). The 100 ms tick stays for what inotify does not see (the clock
// opening or closing a window, a directory that does not exist yet) and
// as the fallback when inotify is unavailable (no instances left): the
// map then works as before, with the tick's delay.
//
// Only the watcher goroutine calls follow and close; the reader goroutine
// shares the watch table with it under mu.
type notifier struct {
	f    *os.File // nil: inotify unavailable
	fd   int
	ch   chan struct{}
	done chan struct{}

	mu    sync.Mutex
	dirs  map[string]int32          // watched directory -> watch descriptor
	names map[int32]map[string]bool // watch descriptor -> flag file names in it
	// paths are the flag files last followed; whole: every one of their
	// directories is watched (a lost watch clears it).
	paths []string
	whole bool
}

// flagEvents are the changes that can make a flag appear, go or differ;
// the *_SELF ones say the directory itself went away.
const flagEvents = syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM |
	syscall.IN_MODIFY | syscall.IN_CLOSE_WRITE | syscall.IN_ATTRIB | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF

// newNotifier starts the inotify reader; err says why there is none (the
// notifier then never fires, and follow does nothing).
func newNotifier() (*notifier, error) {
	n := &notifier{ch: make(chan struct{}, 1), done: make(chan struct{}), dirs: map[string]int32{}, names: map[int32]map[string]bool{}}
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		close(n.done)
		return n, os.NewSyscallError("inotify_init1", err)
	}
	// Non-blocking, so os.File reads through the runtime's poller and
	// close wakes the reader.
	n.fd, n.f = fd, os.NewFile(uintptr(fd), "inotify")
	go n.read()
	return n, nil
}

// changed fires (once per burst) when a followed flag file may have
// changed.
func (n *notifier) changed() <-chan struct{} { return n.ch }

func (n *notifier) kick() {
	select {
	case n.ch <- struct{}{}:
	default:
	}
}

// follow watches the directories of paths, and only those: it is called
// at every tick, so a directory made later, or a flag moved by a reload,
// is followed from the next tick on. A directory that cannot be watched
// (missing) is tried again at the next tick. Nothing is done while the
// paths and their watches stay as they were.
func (n *notifier) follow(paths []string) {
	if n.f == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.whole && slices.Equal(paths, n.paths) {
		return
	}
	n.paths = append(n.paths[:0], paths...)
	want := map[string]map[string]bool{}
	for _, p := range paths {
		d, b := filepath.Split(p)
		d = filepath.Clean(d)
		if want[d] == nil {
			want[d] = map[string]bool{}
		}
		want[d][b] = true
	}
	n.whole = true
	for d, wd := range n.dirs {
		if want[d] == nil {
			syscall.InotifyRmWatch(n.fd, uint32(wd))
			delete(n.dirs, d)
			delete(n.names, wd)
		}
	}
	for d, names := range want {
		wd, ok := n.dirs[d]
		if !ok {
			w, err := syscall.InotifyAddWatch(n.fd, d, flagEvents|syscall.IN_ONLYDIR)
			if err != nil {
				n.whole = false
				continue
			}
			wd = int32(w)
			n.dirs[d] = wd
			// A flag may have changed before the watch was in place.
			n.kick()
		}
		n.names[wd] = names
	}
}

// read turns inotify events into kicks: an event naming a followed flag
// file, the loss of a watch (its directory removed or moved: follow adds
// it again), or a queue overflow (events lost).
func (n *notifier) read() {
	defer close(n.done)
	var buf [4096]byte
	for {
		k, err := n.f.Read(buf[:])
		if err != nil {
			// Closed, or broken: the tick goes on alone.
			return
		}
		hit := false
		n.mu.Lock()
		for off := 0; off+syscall.SizeofInotifyEvent <= k; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			switch {
			case ev.Mask&syscall.IN_Q_OVERFLOW != 0:
				hit = true
			case ev.Mask&(syscall.IN_IGNORED|syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF) != 0:
				for d, wd := range n.dirs {
					if wd == ev.Wd {
						delete(n.dirs, d)
					}
				}
				delete(n.names, ev.Wd)
				n.whole = false
				hit = true
			default:
				if i := bytes.IndexByte(name, 0); i >= 0 {
					name = name[:i]
				}
				hit = hit || n.names[ev.Wd][string(name)]
			}
		}
		n.mu.Unlock()
		if hit {
			n.kick()
		}
	}
}

// close stops the reader and releases the inotify instance.
func (n *notifier) close() {
	if n.f != nil {
		n.f.Close()
	}
	<-n.done
}
