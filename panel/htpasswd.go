package panel

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/maintgate/maintgate/internal/regfile"
)

// htpasswd.go: HTTP Basic against an htpasswd file of bcrypt lines, as
// `htpasswd -B` writes them. Other hashes (MD5 "$apr1$", SHA-1 "{SHA}",
// crypt) are refused: they are fast to guess offline, and the panel can
// switch a site off.

// maxHtpasswd bounds how much of the file is read: a few thousand users.
const maxHtpasswd = 1 << 20

// htpasswdLine is one user of the file.
type htpasswdLine struct {
	user string
	hash []byte
}

// ParseHtpasswd reads the bcrypt lines of an htpasswd file. Blank lines
// and lines starting with '#' are skipped; a line that is not
// "user:$2y$…" (or $2a$, $2b$) is skipped with a problem naming its line
// number (never its hash). A user named twice keeps its first line, as
// Apache's mod_authn_file does.
func ParseHtpasswd(data []byte) (users map[string][]byte, problems []string) {
	users = map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxHtpasswd)
	for n := 1; sc.Scan(); n++ {
		l, err := parseHtpasswdLine(sc.Text())
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("line %d: %v; line skipped", n, err))
		case l.user == "":
		case users[l.user] != nil:
			problems = append(problems, fmt.Sprintf("line %d: user %q named again; the first line counts", n, l.user))
		default:
			users[l.user] = l.hash
		}
	}
	if sc.Err() != nil {
		problems = append(problems, fmt.Sprintf("a line is too long: %v", sc.Err()))
	}
	return users, problems
}

// parseHtpasswdLine parses one line; a blank line or comment is the zero
// line and no error.
func parseHtpasswdLine(s string) (htpasswdLine, error) {
	s = strings.TrimRight(s, "\r")
	if strings.TrimSpace(s) == "" || strings.HasPrefix(strings.TrimSpace(s), "#") {
		return htpasswdLine{}, nil
	}
	user, hash, ok := strings.Cut(s, ":")
	if !ok || user == "" {
		return htpasswdLine{}, fmt.Errorf("not user:hash")
	}
	if strings.ContainsAny(user, " \t") {
		return htpasswdLine{}, fmt.Errorf("user name %q has white space", user)
	}
	if !strings.HasPrefix(hash, "$2y$") && !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") {
		return htpasswdLine{}, fmt.Errorf("user %q: not a bcrypt hash (make it with htpasswd -B)", user)
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return htpasswdLine{}, fmt.Errorf("user %q: bad bcrypt hash: %v", user, err)
	}
	return htpasswdLine{user: user, hash: []byte(hash)}, nil
}

// dummies are compared against for an unknown user, one per cost, so
// that a wrong user name costs what a wrong password of the file's
// costliest user does (no user enumeration by timing; htpasswd -B's
// default cost is 5, -C 12 is common). Made once per cost: a hash of cost
// 14 takes a second.
var dummies struct {
	mu     sync.Mutex
	byCost map[int][]byte
}

func dummyHash(cost int) []byte {
	dummies.mu.Lock()
	defer dummies.mu.Unlock()
	if h := dummies.byCost[cost]; h != nil {
		return h
	}
	h, err := bcrypt.GenerateFromPassword([]byte("maintgate: no such user"), cost)
	if err != nil { // a cost bcrypt.Cost read from the file: cannot happen
		h, _ = bcrypt.GenerateFromPassword([]byte("maintgate: no such user"), bcrypt.MinCost)
	}
	if dummies.byCost == nil {
		dummies.byCost = map[int][]byte{}
	}
	dummies.byCost[cost] = h
	return h
}

// bcryptSlots bounds the bcrypt comparisons running at once: each takes
// a core for up to a second, and the map, on the same host, answers
// every request of the server.
const bcryptSlots = 2

// htpasswdFile is the file, re-read when it changes, and the verified
// credentials of the last minute: bcrypt is slow on purpose, and the page
// refreshes every few seconds.
type htpasswdFile struct {
	path string
	log  func(problem string)

	mu       sync.Mutex
	stamp    fileStamp
	users    map[string][]byte
	dummy    []byte // dummyHash of the file's highest cost
	loadErr  error
	slots    chan struct{}          // bcryptSlots, made on first use
	verified map[[32]byte]time.Time // sha256(user, password) -> until
}

// verifiedFor is how long a verified user and password are not checked
// with bcrypt again, unless the file changes.
const verifiedFor = time.Minute

// fileStamp says whether a file changed: any difference in inode, size,
// mtime or ctime.
type fileStamp struct {
	ino, size    int64
	mtime, ctime int64
}

func stampOf(fi os.FileInfo) fileStamp {
	st, _ := fi.Sys().(*syscall.Stat_t)
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st != nil {
		s.ino, s.ctime = int64(st.Ino), st.Ctim.Nano()
	}
	return s
}

// reload reads the file again when it changed. A file that cannot be
// read refuses everyone until it can (never the last good users: a file
// emptied on purpose must lock them out).
func (h *htpasswdFile) reload() {
	fi, err := os.Stat(h.path)
	if err == nil && h.users != nil && stampOf(fi) == h.stamp {
		return
	}
	h.verified = map[[32]byte]time.Time{}
	h.users, h.loadErr = nil, nil
	if err != nil {
		h.loadErr = fmt.Errorf("htpasswd_file: %w", err)
		h.log(h.loadErr.Error())
		return
	}
	data, err := regfile.Read(h.path, maxHtpasswd)
	if err != nil {
		h.loadErr = fmt.Errorf("htpasswd_file: %w", err)
		h.log(h.loadErr.Error())
		return
	}
	users, problems := ParseHtpasswd(data)
	for _, p := range problems {
		h.log(fmt.Sprintf("htpasswd_file %s: %s", h.path, p))
	}
	top := bcrypt.MinCost
	for _, hash := range users {
		if c, err := bcrypt.Cost(hash); err == nil && c > top {
			top = c
		}
	}
	h.users, h.stamp, h.dummy = users, stampOf(fi), dummyHash(top)
}

// check says whether user and password match a line of the file.
func (h *htpasswdFile) check(user, password string, now time.Time) bool {
	h.mu.Lock()
	h.reload()
	hash, known := h.users[user]
	key := sha256.Sum256([]byte(user + "\x00" + password))
	if until, ok := h.verified[key]; ok && known && now.Before(until) {
		h.mu.Unlock()
		return true
	}
	if !known {
		hash = h.dummy
	}
	if h.slots == nil {
		h.slots = make(chan struct{}, bcryptSlots)
	}
	slots := h.slots
	h.mu.Unlock()
	if hash == nil { // the file cannot be read: everyone is refused
		return false
	}
	slots <- struct{}{}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && known
	<-slots
	if ok {
		h.mu.Lock()
		if len(h.verified) > 1000 {
			h.verified = map[[32]byte]time.Time{}
		}
		h.verified[key] = now.Add(verifiedFor)
		h.mu.Unlock()
	}
	return ok
}
