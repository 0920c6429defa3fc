package testsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// DjangoPython is the interpreter that has Django: Debian's python3 with
// python3-django, not whatever python3 comes first on PATH. $DJANGO_PYTHON
// overrides it.
func DjangoPython() string {
	if p := os.Getenv("DJANGO_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// RequireDjango checks that DjangoPython can import django, and the
// database driver Django needs for database (psycopg2 for postgres URLs,
// MySQLdb for mysql URLs). A missing piece fails the test under CI and
// skips it elsewhere.
func RequireDjango(t testing.TB, database string) {
	t.Helper()
	py := DjangoPython()
	check := func(module, pkg string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "-c", "import "+module).CombinedOutput()
		if err != nil {
			Missing(t, py+" cannot import "+module+" (install Debian package "+pkg+"): "+
				strings.TrimSpace(lastLine(string(out), err)))
		}
	}
	check("django", "python3-django")
	switch {
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		check("psycopg2", "python3-psycopg2")
	case strings.HasPrefix(database, "mysql://"):
		check("MySQLdb", "python3-mysqldb")
	}
}

func lastLine(out string, err error) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return err.Error()
	}
	return out[strings.LastIndexByte(out, '\n')+1:]
}

// Django runs the Python script testdata/<script> with DjangoPython, as
//
//	python3 testdata/SCRIPT --db DATABASE ARGS...
//
// and returns what it printed on stdout. database is sqlite:/path,
// postgres://… or mysql://…; the script configures Django for it with
// settings.configure (see testdata/mksessions.py). The script's stderr is
// shown when it fails.
func Django(t testing.TB, script, database string, args ...string) []byte {
	t.Helper()
	RequireDjango(t, database)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, DjangoPython(),
		append([]string{Testdata(script), "--db", database}, args...)...)
	// Python warnings (Django's deprecation notices for the legacy format)
	// go to stderr, which is only shown on failure.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("django %s --db %s: %v\n%s", script, database, err, stderr.String())
	}
	t.Logf("django %s: %v", script, time.Since(start).Round(time.Millisecond))
	return stdout.Bytes()
}

// Sessions is what testdata/mksessions.py prints: the session cookie of
// each case (named for what maintgate must answer) and the users made.
type Sessions struct {
	Cases map[string]struct {
		Cookie string `json:"cookie"`
		UserID string `json:"user_id"`
	} `json:"cases"`
	Users map[string]struct {
		ID       string `json:"id"`
		Password string `json:"password"`
		Hash     string `json:"hash"`
	} `json:"users"`
}

// MakeSessions has a real Django migrate database, create its users and
// log them in, signing with secret (and, for the fallback cases, oldSecret).
func MakeSessions(t testing.TB, database, secret, oldSecret string) Sessions {
	t.Helper()
	out := Django(t, "mksessions.py", database, "--secret", secret, "--old-secret", oldSecret)
	var s Sessions
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("mksessions.py output: %v\n%s", err, out)
	}
	if len(s.Cases) == 0 {
		t.Fatalf("mksessions.py made no sessions:\n%s", out)
	}
	return s
}
