package tests

// Hostile requests through the real Apache harness (the shipped snippets,
// maintenance on): what an attacker who wants past the maintenance page
// can send. The cases are testdata/hostile.tsv, one request a line; each is
// written byte for byte on its own connection (Go's client would clean or
// refuse much of it), and Apache's status is compared. 302 is the
// maintenance redirect; 200 "backend" means the application was reached,
// which must happen only for a path, address, token or session maintgate
// is meant to let through.

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/maintgate/maintgate/authz/token"
)

// hostileSetups are the Apaches the cases are sent to, by the name in the
// file's first column; each adds to the common setup (a whitelist, a
// trusted proxy, Django sessions).
var hostileSetups = map[string]apacheOpts{
	"default": {},
	// Apache reads header fields up to 64 KiB, so a key line can pass the
	// map's 128 KiB line limit; on_error = "allow" shows that such a line
	// is decided on what can be read, never by on_error.
	"big fields": {
		server: []string{"LimitRequestFieldSize 65536"},
		toml:   map[string]string{"on_error": `"allow"`},
	},
	// A backend that resolves ";" parameters and backslashes (Tomcat,
	// Jetty, IIS).
	"servlet": {toml: map[string]string{"backend_paths": `"servlet"`}},
}

// hostileCase is one line of testdata/hostile.tsv. target, where and
// headers are templates until expand.
type hostileCase struct {
	line    int
	setup   string
	group   string
	name    string
	from    string   // client address (loopback); "" is 127.0.0.1
	target  string   // the request-target, sent as is
	headers []string // raw header lines, sent as is
	want    int
	// where, when want is 200: the path the application must have been
	// asked for ("" when Apache itself answers); when want is 302: where
	// to ("" is the maintenance page).
	where string
}

// hostileData is what the templates of testdata/hostile.tsv may use.
type hostileData struct {
	Port                              int
	Token, Expired, Foreign, Tampered string
}

// readHostileCases parses testdata/hostile.tsv.
func readHostileCases(t *testing.T) []hostileCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "tests/testdata/hostile.tsv"))
	apMust(t, err)
	var cases []hostileCase
	for i, text := range strings.Split(string(b), "\n") {
		line := i + 1
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		col := strings.Split(text, "\t")
		if len(col) < 7 {
			t.Fatalf("hostile.tsv:%d: %d fields, want at least 7", line, len(col))
		}
		if _, ok := hostileSetups[col[0]]; !ok {
			t.Fatalf("hostile.tsv:%d: unknown setup %q", line, col[0])
		}
		want, err := strconv.Atoi(col[5])
		if err != nil {
			t.Fatalf("hostile.tsv:%d: status %q: %v", line, col[5], err)
		}
		c := hostileCase{line: line, setup: col[0], group: col[1], name: col[2], target: col[4], want: want, headers: col[7:]}
		if col[3] != "-" {
			c.from = col[3]
		}
		if col[6] != "-" {
			c.where = col[6]
		}
		cases = append(cases, c)
	}
	return cases
}

// expand returns the case with its templates executed.
func (c hostileCase) expand(t *testing.T, data hostileData, funcs template.FuncMap) hostileCase {
	t.Helper()
	exec := func(field string) string {
		tmpl, err := template.New("").Funcs(funcs).Parse(field)
		if err != nil {
			t.Fatalf("hostile.tsv:%d: %v", c.line, err)
		}
		var out strings.Builder
		if err := tmpl.Execute(&out, data); err != nil {
			t.Fatalf("hostile.tsv:%d: %v", c.line, err)
		}
		return out.String()
	}
	c.target, c.where = exec(c.target), exec(c.where)
	headers := make([]string, len(c.headers))
	for i, h := range c.headers {
		headers[i] = exec(h)
	}
	c.headers = headers
	return c
}

// hostileFuncs are the template functions of testdata/hostile.tsv.
func hostileFuncs(dj *apDjango) template.FuncMap {
	return template.FuncMap{
		"session": func(name string) (string, error) {
			if c, ok := dj.Cases[name]; ok && c.Cookie != "" {
				return c.Cookie, nil
			}
			return "", fmt.Errorf("mksessions made no %q session", name)
		},
		"repeat": func(s string, n int) string { return strings.Repeat(s, n) },
		"sub":    func(a, b int) int { return a - b },
		"cookies": func(n int) string {
			c := make([]string, n)
			for i := range c {
				c[i] = fmt.Sprintf("c%03d=v%03d", i, i)
			}
			return strings.Join(c, "; ")
		},
	}
}

// rawRequest sends one request on a fresh connection from the address from
// and reads the response.
func (a *apacheEnv) rawRequest(from, req string) (*http.Response, string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", a.port))
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		body.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	return resp, body.String(), nil
}

// request is the case as bytes on the wire.
func (c hostileCase) request(host string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", c.target, host)
	for _, h := range c.headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// runHostile sends each case and checks Apache's answer.
func (a *apacheEnv) runHostile(t *testing.T, c hostileCase) {
	t.Helper()
	resp, body, err := a.rawRequest(c.from, c.request(strings.TrimPrefix(a.base, "http://")))
	if err != nil {
		t.Fatalf("hostile.tsv:%d: %v", c.line, err)
	}
	got := resp.StatusCode
	t.Logf("%d %s", got, http.StatusText(got))
	if got != c.want {
		t.Errorf("hostile.tsv:%d: got %d %s (Location %q, body %.100q), want %d", c.line, got, http.StatusText(got), resp.Header.Get("Location"), body, c.want)
		return
	}
	switch {
	case got == http.StatusFound:
		want := c.where
		if want == "" {
			want = "/maintenance.html"
		}
		if !strings.HasPrefix(want, "http") {
			want = a.base + want
		}
		if loc := resp.Header.Get("Location"); loc != want {
			t.Errorf("hostile.tsv:%d: 302 to %q, want %s", c.line, loc, want)
		}
	case got == http.StatusOK && c.where != "":
		if body != "backend: "+c.where+"\n" {
			t.Errorf("hostile.tsv:%d: 200 with body %.100q, want the backend serving %q", c.line, body, c.where)
		}
	}
	if got == http.StatusOK && c.where == "" && strings.HasPrefix(body, "backend: ") {
		t.Errorf("hostile.tsv:%d: the application was reached (%q); want Apache alone to answer", c.line, strings.TrimSpace(body))
	}
}

// TestApacheHostile sends every case of testdata/hostile.tsv to the Apache
// of its setup, one Apache per setup, in the order the file first names
// them.
func TestApacheHostile(t *testing.T) {
	dj := newApDjango(t)
	funcs := hostileFuncs(dj)
	all := readHostileCases(t)
	var setups []string
	for _, c := range all {
		if !slices.Contains(setups, c.setup) {
			setups = append(setups, c.setup)
		}
	}
	for _, setup := range setups {
		t.Run(setup, func(t *testing.T) {
			o := hostileSetups[setup]
			toml := dj.toml(map[string]string{
				"whitelist":       `["127.0.0.2", "10.0.0.0/8"]`,
				"trusted_proxies": `["127.0.0.4"]`,
			})
			for k, v := range o.toml {
				toml[k] = v
			}
			o.toml = toml
			a := startApache(t, o)
			a.on(t)
			data := a.hostileData(t)
			for _, c := range all {
				if c.setup != setup {
					continue
				}
				t.Run(c.group+"/"+c.name, func(t *testing.T) { a.runHostile(t, c.expand(t, data, funcs)) })
			}
			// Whatever was sent, the map answered every line and is still
			// the one Apache started.
			if pids := a.mapPIDs(); len(pids) != 1 {
				t.Errorf("map processes after the hostile requests: %v, want one", pids)
			}
			if log := a.errorLog(); strings.Contains(log, "panic") {
				t.Errorf("a panic in the error log:\n%s", apTail(log, 3000))
			}
		})
	}
}

// hostileData makes the tokens of the cases: a valid one from `maintgate
// token issue`, and the others from the same key.
func (a *apacheEnv) hostileData(t *testing.T) hostileData {
	t.Helper()
	tok := a.tokenIssue(t)
	key, err := token.LoadKey(a.keyFile)
	apMust(t, err)
	now := time.Now()
	expired, err := token.Issue(key, "expired", now.Add(-2*time.Hour), now.Add(-time.Hour))
	apMust(t, err)
	otherKey := []byte("another-key-not-the-one-in-the-config-0123456789")
	foreign, err := token.Issue(otherKey, "foreign", now, now.Add(time.Hour))
	apMust(t, err)
	last := "A"
	if tok[len(tok)-1] == 'A' {
		last = "B"
	}
	return hostileData{Port: a.port, Token: tok, Expired: expired, Foreign: foreign, Tampered: tok[:len(tok)-1] + last}
}
