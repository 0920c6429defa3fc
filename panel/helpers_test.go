package panel

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/maintgate/maintgate/config"
)

// testPanel is a panel over a temporary directory: its flag files, state
// map, whitelist file, counters, audit log and htpasswd file.
type testPanel struct {
	dir, cfgPath string
	cfg          *config.Config
	srv          *Server
	http         *httptest.Server
}

// newTestPanel writes a config (tail is appended TOML) and serves the
// panel on loopback. Users: alice (password alice-pw).
func newTestPanel(t *testing.T, tail string) *testPanel {
	t.Helper()
	return benchSetup(t, t.TempDir(), tail)
}

// benchSetup is newTestPanel in dir, for tests and benchmarks alike.
func benchSetup(t testing.TB, dir string, tail ...string) *testPanel {
	t.Helper()
	p := &testPanel{dir: dir, cfgPath: filepath.Join(dir, "maintgate.toml")}
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	must(t, err)
	write(t, filepath.Join(dir, "htpasswd"), "# made by the test\nalice:"+string(hash)+"\n")
	write(t, filepath.Join(dir, "whitelist.txt"), "# office\n192.0.2.10\n")
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	must(t, os.WriteFile(filepath.Join(dir, "token.key"), key, 0o600))
	q := func(name string) string { return strconv.Quote(filepath.Join(dir, name)) }
	cfg := "flag_file = " + q("maintenance") + "\nstate_map = " + q("state.map") +
		"\nwhitelist_file = " + q("whitelist.txt") + "\nstats_file = " + q("stats.prom") +
		"\n[token]\nkey_file = " + q("token.key") +
		"\n[panel]\nauth = [\"htpasswd\"]\nhtpasswd_file = " + q("htpasswd") + "\naudit_log = " + q("audit.log") +
		"\n[sites.shop]\n" + strings.Join(tail, "")
	write(t, p.cfgPath, cfg)
	p.start(t)
	return p
}

func (p *testPanel) start(t testing.TB) {
	t.Helper()
	var err error
	p.cfg, err = config.Load(p.cfgPath)
	must(t, err)
	p.srv, err = New(context.Background(), Options{Config: p.cfg, SampleEvery: 20 * time.Millisecond})
	must(t, err)
	p.http = httptest.NewServer(p.srv.Handler())
	t.Cleanup(func() {
		p.http.Close()
		p.srv.Close()
	})
}

// reply is a response read whole.
type reply struct {
	code   int
	header http.Header
	body   string
}

// do sends a request to the panel; user "" sends no credentials.
func (p *testPanel) do(t *testing.T, method, path, user, pw, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, p.http.URL+path, strings.NewReader(body))
	must(t, err)
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		if k == "Host" {
			req.Host = v // Go sends req.Host, never a Host header
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// alice sends a request as the htpasswd user.
func (p *testPanel) alice(t *testing.T, method, path, body string, headers ...string) reply {
	t.Helper()
	return p.do(t, method, path, "alice", "alice-pw", body, headers...)
}

func (p *testPanel) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func wantCode(t *testing.T, r reply, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.code, code, r.body)
	}
}

func decodeJSON(t *testing.T, r reply, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.body)
	}
}

func write(t testing.TB, path, text string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(text), 0o644))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
