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
