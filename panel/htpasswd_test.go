package panel

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/maintgate/maintgate/internal/testsvc"
)

func TestHtpasswdBcryptOnly(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	must(t, err)
	users, probs := ParseHtpasswd([]byte("# comment\n\nbob:" + string(h) + "\r\n" +
		"md5:$apr1$abc$defghijklmnopqrstuvwx.\nsha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nplain:secret\nnocolon\nbob:" + string(h) + "\n"))
	if len(users) != 1 || users["bob"] == nil {
		t.Fatalf("users %v", users)
	}
	want := []string{"line 4: user \"md5\": not a bcrypt hash", "line 5: user \"sha\": not a bcrypt", "line 6: user \"plain\"", "line 7: not user:hash", "line 8: user \"bob\" named again"}
	if len(probs) != len(want) {
		t.Fatalf("problems %q", probs)
	}
	for i, w := range want {
		if !strings.HasPrefix(probs[i], w) {
			t.Errorf("problem %d: %q, want %q…", i, probs[i], w)
		}
	}
	for _, p := range probs {
		if strings.Contains(p, "$apr1$") || strings.Contains(p, "secret") || strings.Contains(p, "{SHA}") {
			t.Errorf("a problem quotes a hash or password: %q", p)
		}
	}
}

// TestHtpasswdFileReread: a user added, a password changed and a user
// removed take effect at the next request, without a restart.
func TestHtpasswdFileReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	line := func(user, pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		must(t, err)
		return user + ":" + string(h) + "\n"
	}
	write(t, path, line("a", "one"))
	f := &htpasswdFile{path: path, log: func(string) {}}
	now := time.Now()
	if !f.check("a", "one", now) || f.check("a", "two", now) || f.check("b", "one", now) {
		t.Fatal("first file")
	}
	write(t, path, line("a", "two")+line("b", "bee"))
	if f.check("a", "one", now) || !f.check("a", "two", now) || !f.check("b", "bee", now) {
		t.Fatal("after the change: the old password still works, or the new ones do not")
	}
	must(t, os.Remove(path))
	if f.check("a", "two", now) {
		t.Fatal("a removed file still signs in")
	}
}

// TestHtpasswdFromApacheTool: a line as Debian's htpasswd -B writes it.
func TestHtpasswdFromApacheTool(t *testing.T) {
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		testsvc.Missing(t, "htpasswd (Debian package apache2-utils)")
	}
	out, err := exec.Command(bin, "-nbB", "carol", "carol pw").Output()
	must(t, err)
	f := &htpasswdFile{path: filepath.Join(t.TempDir(), "h"), log: func(p string) { t.Error(p) }}
	write(t, f.path, string(out))
	if !f.check("carol", "carol pw", time.Now()) {
		t.Fatalf("htpasswd -B line refused: %q", out)
	}
}

// FuzzHtpasswd: any file parses without panic; a user it accepts has a
// bcrypt hash, no ':' or blank in its name; every problem names its
// line.
func FuzzHtpasswd(f *testing.F) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	f.Add("alice:" + string(h) + "\n")
	f.Add("# c\n\nbob:$apr1$x$y\n:$2y$05$\n")
	f.Add("x:$2y$05$" + strings.Repeat("a", 53) + "\r\n")
	f.Add("a b:$2b$10$\n\x00:\n")
	f.Fuzz(func(t *testing.T, s string) {
		users, probs := ParseHtpasswd([]byte(s))
		for u, hash := range users {
			if u == "" || strings.ContainsAny(u, ": \t\n") {
				t.Fatalf("user %q accepted", u)
			}
			if _, err := bcrypt.Cost(hash); err != nil {
				t.Fatalf("user %q with a hash bcrypt cannot read: %v", u, err)
			}
		}
		for _, p := range probs {
			if !strings.HasPrefix(p, "line ") && !strings.HasPrefix(p, "a line is too long") {
				t.Fatalf("problem without its line: %q", p)
			}
		}
	})
}

// TestHtpasswdUnknownUserCostsAsMuch: a file made with htpasswd -B -C 8
// (any cost above the default 5): a name not in the file takes as long as
// a wrong password of one that is, so timing does not tell which names
// exist.
func TestHtpasswdUnknownUserCostsAsMuch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	h, err := bcrypt.GenerateFromPassword([]byte("right"), 8)
	must(t, err)
	write(t, path, "a:"+string(h)+"\n")
	f := &htpasswdFile{path: path, log: func(string) {}}
	now := time.Now()
	f.check("b", "warm-up", now) // reads the file
	fastest := func(user string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			if f.check(user, "wrong", now) {
				t.Fatalf("%s signed in with a wrong password", user)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := fastest("a"), fastest("nobody")
	if unknown < known/2 {
		t.Errorf("a wrong password takes %v for a user of the file, %v for a name not in it", known, unknown)
	}
}

// TestHtpasswdChecksAtMostTwoAtOnce: with both bcrypt slots taken, a
// check waits for one (a flood of Basic guesses cannot take every core
// from the map on the same host).
func TestHtpasswdChecksAtMostTwoAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	h, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	must(t, err)
	write(t, path, "a:"+string(h)+"\n")
	f := &htpasswdFile{path: path, log: func(string) {}, slots: make(chan struct{}, bcryptSlots)}
	for range bcryptSlots {
		f.slots <- struct{}{}
	}
	done := make(chan bool)
	go func() { done <- f.check("a", "right", time.Now()) }()
	select {
	case <-done:
		t.Fatal("a bcrypt check ran with every slot taken")
	case <-time.After(200 * time.Millisecond):
	}
	<-f.slots
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("the right password was refused")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the check did not run once a slot was free")
	}
}
