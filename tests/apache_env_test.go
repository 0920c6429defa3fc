package tests

// The Apache harness: a real Apache httpd (Debian's apache2) started from
// tests/testdata/httpd.conf.in, which Includes the SHIPPED apache-conf/
// snippets, in front of a real HTTP backend, with `maintgate map` as its
// RewriteMap program. Only paths differ from what an operator installs, and
// those are set the way the snippets offer: Define lines read before
// maintgate.conf.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// apacheModuleDir is where httpd.conf.in loads Debian's modules from.
const apacheModuleDir = "/usr/lib/apache2/modules"

// apacheBin finds Debian's apache2 (in /usr/sbin, which may be missing from
// a non-root PATH).
func apacheBin() string {
	for _, p := range []string{"/usr/sbin/apache2", "/usr/sbin/httpd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "apache2"
}

// apacheOpts chooses which shipped snippets the vhost includes, and the
// maintgate configuration.
type apacheOpts struct {
	// variant is "vhost" (the 302 snippet, default) or "503".
	variant string
	// skipStatic includes maintgate-skip-static.conf.
	skipStatic bool
	// tls serves the vhost over HTTPS (mod_ssl, a self-signed certificate).
	tls bool
	// authz includes maintgate-authz.conf (location /staff/), plus a
	// test-only location /staff-env/ using the environment method.
	authz bool
	// toml sets keys of the shipped example maintgate.toml: "key" or
	// "section.key" to a TOML value.
	toml map[string]string
	// tomlTail is TOML text appended to maintgate.toml (tables such as
	// [sites.shop], which toml cannot add); @DIR@ in it is the
	// environment's directory.
	tomlTail string
	// files are written (path relative to the environment's directory:
	// text) before maintgate runs and Apache starts, such as a site's own
	// page, which Apache must find when it reads its configuration.
	files map[string]string
	// sites adds httpd.conf.in's MG_SITES vhosts: shop on two ports and
	// blog, each naming its site with Define MAINTGATE_SITE, before the
	// vhost on port, which names none (see siteBase). The [sites.NAME]
	// tables are tomlTail's to give.
	sites bool
	// server is extra server-wide Apache lines (LimitRequestFieldSize …).
	server []string
}

// apacheEnv is one running Apache with its maintgate files.
type apacheEnv struct {
	dir     string
	conf    string
	cfg     string // maintgate.toml
	flag    string
	state   string
	bin     string // maintgate, reachable by Apache's User
	keyFile string
	port    int
	base    string // http(s)://127.0.0.1:PORT
	// sitePorts are the ports of the MG_SITES vhosts, by vhost name
	// ("shop", "shop2", "blog"); nil without opts.sites.
	sitePorts map[string]int
	backend   *apBackend
	opts      apacheOpts
}

// apacheUser is the user Apache's children run as when started by root:
// www-data, as on Debian (httpd.conf.in's MG_USER); ok is false when Apache
// is not started by root or there is no such user.
func apacheUser() (uid, gid int, ok bool) {
	u, err := user.Lookup("www-data")
	if err != nil || os.Geteuid() != 0 {
		return -1, -1, false
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, true
}

// startApache builds the environment and starts Apache; everything is
// stopped and removed in t.Cleanup.
func startApache(t *testing.T, o apacheOpts) *apacheEnv {
	t.Helper()
	requireTool(t, apacheBin(), "Apache httpd (Debian package apache2)")
	if o.variant == "" {
		o.variant = "vhost"
	}
	if o.authz {
		if _, err := os.Stat(filepath.Join(apacheModuleDir, "mod_authnz_external.so")); err != nil {
			requireTool(t, filepath.Join(apacheModuleDir, "mod_authnz_external.so"), "mod_authnz_external (Debian package libapache2-mod-authnz-external)")
		}
	}
	// Not t.TempDir: that directory is 0700 root, and Apache's children
	// (www-data) must read the page, the state map and the static files,
	// and run the authz checker.
	dir, err := os.MkdirTemp("", "maintgate-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("MAINTGATE_KEEP") != "" {
			t.Logf("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	apMust(t, os.Chmod(dir, 0o755))
	a := &apacheEnv{dir: dir, opts: o}
	a.cfg = filepath.Join(dir, "maintgate.toml")
	a.flag = filepath.Join(dir, "state", "maintenance")
	a.state = filepath.Join(dir, "state", "state.map")
	a.keyFile = filepath.Join(dir, "token.key")
	for _, d := range []string{"state", "www/static", "www/media", "page", "bin"} {
		apMust(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	apWriteFile(t, filepath.Join(dir, "www/static/app.css"), "body { color: #123; }\n")
	apWriteFile(t, filepath.Join(dir, "www/media/logo.txt"), "a media file\n")
	apWriteFile(t, filepath.Join(dir, "www/robots.txt"), "User-agent: *\nDisallow:\n")
	// The static page and its JSON twin as shipped; `maintgate off` below
	// renders the page from the shipped template over the copy.
	apCopyFile(t, filepath.Join(repoRoot, "apache-conf/maintenance.html"), filepath.Join(dir, "page/maintenance.html"), 0o644)
	apCopyFile(t, filepath.Join(repoRoot, "apache-conf/maintenance.json"), filepath.Join(dir, "page/maintenance.json"), 0o644)

	// The binary, where www-data can run it (the authz checker).
	a.bin = filepath.Join(dir, "bin", "maintgate")
	if err := os.Link(maintgate, a.bin); err != nil {
		apCopyFile(t, maintgate, a.bin, 0o755)
	}
	// The RewriteMap program is the binary behind a wrapper that keeps a
	// copy of every key line Apache sends (lines.log), to count lookups.
	// Apache's pipe goes straight to maintgate's stdout; the wrapper closes
	// its own copy, so a killed maintgate is end-of-file for Apache, as
	// without the wrapper; and it passes on Apache's SIGTERM at shutdown.
	// Anything but `map` is exec'd as is.
	wrapper := filepath.Join(dir, "bin", "maintgate-wrapper.sh")
	apWriteFileMode(t, wrapper, fmt.Sprintf(`#!/bin/sh
if [ "$1" != map ]; then exec %[1]s "$@"; fi
exec 4<&0
tee -a %[2]s <&4 4<&- 2>/dev/null | %[1]s "$@" 4<&- &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM
exec 0<&- 1>&- 4<&-
wait
wait
`, a.bin, filepath.Join(dir, "lines.log")), 0o755)

	// The token key: readable by the checker (www-data), not by everyone.
	key := make([]byte, 32)
	rand.Read(key)
	apWriteFileMode(t, a.keyFile, string(key), 0o640)
	if _, gid, ok := apacheUser(); ok {
		apMust(t, os.Chown(a.keyFile, 0, gid))
	}
	// The checker's failure record (password guesses), beside the flag
	// file: the one directory Apache's User writes, as installed with
	// `install -d -o www-data -m 700 /var/lib/maintgate/authz`.
	records := filepath.Join(dir, "state", "authz")
	apMust(t, os.Mkdir(records, 0o700))
	if uid, gid, ok := apacheUser(); ok {
		apMust(t, os.Chown(records, uid, gid))
	}

	// maintgate.toml: the shipped example with this environment's paths.
	example, err := os.ReadFile(filepath.Join(repoRoot, "apache-conf/maintgate.toml"))
	apMust(t, err)
	settings := map[string]string{
		"flag_file":      strconv.Quote(a.flag),
		"state_map":      strconv.Quote(a.state),
		"page_template":  strconv.Quote(filepath.Join(repoRoot, "apache-conf/maintenance.html.tmpl")),
		"page_file":      strconv.Quote(filepath.Join(dir, "page/maintenance.html")),
		"token.key_file": strconv.Quote(a.keyFile),
		"log.level":      `"debug"`,
	}
	for k, v := range o.toml {
		settings[k] = v
	}
	cfgText := string(example)
	for k, v := range settings {
		cfgText = apTomlSet(t, cfgText, k, v)
	}
	if o.tomlTail != "" {
		cfgText += "\n" + strings.ReplaceAll(o.tomlTail, "@DIR@", dir) + "\n"
	}
	apWriteFile(t, a.cfg, cfgText)
	for rel, text := range o.files {
		p := filepath.Join(dir, rel)
		apMust(t, os.MkdirAll(filepath.Dir(p), 0o755))
		apWriteFile(t, p, text)
	}

	// The install step the contract requires: the state map exists before
	// Apache starts (and `off` renders the page from the template).
	mg(t, a.cfg, 0, "off")
	if _, err := os.Stat(a.state); err != nil {
		t.Fatalf("maintgate off did not write the state map: %v", err)
	}

	a.backend = startApBackend(t)
	a.pickPorts(t)
	if o.tls {
		a.writeCert(t)
	}
	a.conf = filepath.Join(dir, "httpd.conf")
	apWriteFile(t, a.conf, a.httpdConf(t))
	a.start(t)
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("Apache error log (the map's and the checker's log included):\n%s", apTail(a.errorLog(), 6000))
		}
	})
	return a
}

// pickPorts chooses free ports for the vhosts.
func (a *apacheEnv) pickPorts(t testing.TB) {
	t.Helper()
	a.port = testsvc.FreePort(t)
	a.base = a.baseURL()
	if a.opts.sites {
		a.sitePorts = map[string]int{}
		for _, v := range []string{"shop", "shop2", "blog"} {
			a.sitePorts[v] = testsvc.FreePort(t)
		}
	}
}

// ports lists the vhosts' ports, in an order pickPorts keeps.
func (a *apacheEnv) ports() []int {
	return []int{a.port, a.sitePorts["shop"], a.sitePorts["shop2"], a.sitePorts["blog"]}
}

func (a *apacheEnv) baseURL() string {
	scheme := "http"
	if a.opts.tls {
		scheme = "https"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, a.port)
}

// siteBase is the URL of one of the MG_SITES vhosts ("shop", "shop2",
// "blog"); "" names the vhost on port, which names no site.
func (a *apacheEnv) siteBase(t testing.TB, vhost string) string {
	t.Helper()
	if vhost == "" {
		return a.base
	}
	p, ok := a.sitePorts[vhost]
	if !ok {
		t.Fatalf("no vhost %q (sites: %v)", vhost, a.opts.sites)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", p)
}

// writeCert makes a self-signed certificate for 127.0.0.1 (cert.pem,
// key.pem); clients skip verification.
func (a *apacheEnv) writeCert(t testing.TB) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	apMust(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	apMust(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	apMust(t, err)
	apWriteFile(t, filepath.Join(a.dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	apWriteFileMode(t, filepath.Join(a.dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})), 0o600)
}

// httpdConf renders tests/testdata/httpd.conf.in for this environment.
func (a *apacheEnv) httpdConf(t testing.TB) string {
	t.Helper()
	defines := []string{"MG_TEST"}
	if _, _, ok := apacheUser(); ok {
		defines = append(defines, "MG_USER")
	}
	for _, d := range []struct {
		on   bool
		name string
	}{{a.opts.tls, "MG_TLS"}, {a.opts.skipStatic, "MG_SKIP_STATIC"}, {a.opts.authz, "MG_AUTHZ"}, {a.opts.variant == "503", "MG_503"}, {a.opts.sites, "MG_SITES"}} {
		if d.on {
			defines = append(defines, d.name)
		}
	}
	var defLines []string
	for _, d := range defines {
		defLines = append(defLines, "Define "+d)
	}
	return renderHTTPDConf(t, map[string]string{
		"DIR":           a.dir,
		"PORT":          strconv.Itoa(a.port),
		"SHOP_PORT":     strconv.Itoa(a.sitePorts["shop"]),
		"SHOP_ALT_PORT": strconv.Itoa(a.sitePorts["shop2"]),
		"BLOG_PORT":     strconv.Itoa(a.sitePorts["blog"]),
		"BACKEND":       a.backend.addr,
		"BIN":           filepath.Join(a.dir, "bin", "maintgate-wrapper.sh"),
		"CONFIG":        a.cfg,
		"DEFINES":       strings.Join(defLines, "\n"),
		"SERVER":        strings.Join(a.opts.server, "\n"),
	})
}

func (a *apacheEnv) start(t testing.TB) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		out, err := exec.Command(apacheBin(), "-f", a.conf, "-k", "start").CombinedOutput()
		if err != nil {
			t.Fatalf("apache2 -k start: %v\n%s\nerror.log:\n%s", err, out, a.errorLog())
		}
		if err := a.waitReady(10 * time.Second); err == nil {
			return
		} else if attempt < 2 && strings.Contains(a.errorLog(), "Address already in use") {
			// A free port was taken between FreePort and bind: new ports,
			// in the configuration as it is (reconfigure may have edited
			// it).
			a.stop()
			conf, _ := os.ReadFile(a.conf)
			old := a.ports()
			a.pickPorts(t)
			for i, p := range a.ports() {
				if old[i] == 0 {
					continue
				}
				re := regexp.MustCompile(fmt.Sprintf(`127\.0\.0\.1:%d\b`, old[i]))
				conf = re.ReplaceAll(conf, []byte(fmt.Sprintf("127.0.0.1:%d", p)))
			}
			apWriteFile(t, a.conf, string(conf))
			continue
		} else {
			t.Fatalf("apache did not come up: %v\nerror.log:\n%s", err, a.errorLog())
		}
	}
}

// waitReady waits for the pid file and for the port to answer HTTP.
func (a *apacheEnv) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	c := apClient("")
	c.Timeout = time.Second
	for {
		if a.pid() > 0 {
			resp, err := c.Get(a.base + "/robots.txt")
			if err == nil {
				resp.Body.Close()
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *apacheEnv) pid() int {
	b, err := os.ReadFile(filepath.Join(a.dir, "httpd.pid"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// stop stops Apache and makes sure that neither it nor a map process of
// this environment is left running.
func (a *apacheEnv) stop() {
	pid := a.pid()
	exec.Command(apacheBin(), "-f", a.conf, "-k", "stop").Run()
	deadline := time.Now().Add(10 * time.Second)
	for pid > 0 && apAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if pid > 0 && apAlive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	// Children of Apache and map processes are ours by their command
	// line, which names this environment's directory.
	deadline = time.Now().Add(5 * time.Second)
	for {
		left := a.procs("")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				syscall.Kill(p, syscall.SIGKILL)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(filepath.Join(a.dir, "httpd.pid"))
}

func apAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie is as good as gone.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// procs lists the live processes whose command line mentions this
// environment's directory (and sub, when not empty).
func (a *apacheEnv) procs(sub string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		if strings.Contains(cmd, a.dir) && (sub == "" || strings.Contains(cmd, sub)) && apAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// mapPIDs returns the running `maintgate map` processes of this Apache.
func (a *apacheEnv) mapPIDs() []int {
	return a.procs(a.bin + " map ")
}

func (a *apacheEnv) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "error.log"))
	return string(b)
}

// apTail returns the end of s, at most n bytes.
func apTail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// lookups is the number of key lines Apache has sent to maintgate.
func (a *apacheEnv) lookups() int {
	b, _ := os.ReadFile(filepath.Join(a.dir, "lines.log"))
	return bytes.Count(b, []byte{'\n'})
}

// keyLines returns the key lines Apache has sent so far.
func (a *apacheEnv) keyLines() []string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "lines.log"))
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// on runs `maintgate on` with args. The next request is gated at once:
// `on` writes the state map, Apache reads it at the next request and asks
// the map, and the map re-reads a flag that looked off before it answers.
func (a *apacheEnv) on(t testing.TB, args ...string) {
	t.Helper()
	mg(t, a.cfg, 0, append([]string{"on"}, args...)...)
}

// tokenIssue returns a fresh bypass token.
func (a *apacheEnv) tokenIssue(t testing.TB) string {
	t.Helper()
	out := mg(t, a.cfg, 0, "token", "issue", "--ttl", "1h", "--label", "apache-test")
	tok := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	if tok == "" {
		t.Fatal("maintgate token issue printed no token")
	}
	return tok
}

// --- HTTP client side: what curl or a browser sees.

// apReply is one response, read whole.
type apReply struct {
	status int
	header http.Header
	body   string
}

func (r apReply) String() string {
	return fmt.Sprintf("%d %s location=%q cache-control=%q body=%.80q", r.status, http.StatusText(r.status),
		r.header.Get("Location"), r.header.Get("Cache-Control"), r.body)
}

// apClient returns a client that does not follow redirects (like curl -I)
// and, with from set, connects from that loopback address (127.0.0.2 etc.
// are all loopback on Linux), so Apache sees it as REMOTE_ADDR.
func apClient(from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 64,
			// The tls option's certificate is self-signed.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var apDefaultClient = apClient("")

// get requests path with extra header lines ("Name: value").
func (a *apacheEnv) get(t testing.TB, path string, headers ...string) apReply {
	t.Helper()
	return a.getFrom(t, apDefaultClient, path, headers...)
}

func (a *apacheEnv) getFrom(t testing.TB, c *http.Client, path string, headers ...string) apReply {
	t.Helper()
	r, err := a.do(c, "GET", path, headers...)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

func (a *apacheEnv) do(c *http.Client, method, path string, headers ...string) (apReply, error) {
	req, err := http.NewRequest(method, a.base+path, nil)
	if err != nil {
		return apReply{}, err
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := c.Do(req)
	if err != nil {
		return apReply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return apReply{}, err
	}
	return apReply{status: resp.StatusCode, header: resp.Header, body: string(body)}, nil
}

// --- the backend: the application behind Apache.

// apBackend is a small HTTP server that says which path it served, and can
// be stopped and started again on the same address.
type apBackend struct {
	addr string
	mu   sync.Mutex
	srv  *http.Server
	hits atomic.Int64
}

func startApBackend(t testing.TB) *apBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	apMust(t, err)
	b := &apBackend{addr: l.Addr().String()}
	b.serve(l)
	t.Cleanup(b.stop)
	return b
}

func (b *apBackend) serve(l net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/own-503", func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("Retry-After", "7")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "backend: own 503\n")
	})
	mux.HandleFunc("/cacheable", func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=600")
		fmt.Fprintf(w, "backend: %s\n", r.URL.Path)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Backend", "1")
		// What the application was told about credentials (the checker's
		// location must never pass them on).
		if auth := r.Header.Get("Authorization"); auth != "" {
			w.Header().Set("X-Backend-Authorization", auth)
		}
		fmt.Fprintf(w, "backend: %s\n", r.URL.Path)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(l)
}

// stop closes the listener and every connection: the application is down.
func (b *apBackend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

// start serves again on the same address.
func (b *apBackend) start(t testing.TB) {
	t.Helper()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	apMust(t, err)
	b.serve(l)
}

// --- small helpers.

func apMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func apWriteFile(t testing.TB, path, text string) {
	t.Helper()
	apWriteFileMode(t, path, text, 0o644)
}

func apWriteFileMode(t testing.TB, path, text string, mode os.FileMode) {
	t.Helper()
	apMust(t, os.WriteFile(path, []byte(text), mode))
	apMust(t, os.Chmod(path, mode))
}

func apCopyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	apMust(t, err)
	apWriteFileMode(t, to, string(b), mode)
}

// apTomlSet replaces the value of key ("key" at top level or "section.key")
// in TOML text, including a multi-line array value. A key the example
// does not list yet is added: at the end of the top level, or of its
// section (which must be there).
func apTomlSet(t testing.TB, text, key, value string) string {
	t.Helper()
	section, name := "", key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		section, name = key[:i], key[i+1:]
	}
	var out []string
	cur := ""
	done := false
	sc := bufio.NewScanner(strings.NewReader(text))
	skipping := false
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if skipping {
			if strings.HasPrefix(trim, "]") {
				skipping = false
			}
			continue
		}
		if strings.HasPrefix(trim, "[") && !strings.Contains(trim, "=") {
			cur = strings.Trim(trim, "[] ")
		}
		if !done && cur == section && strings.HasPrefix(trim, name+" ") && strings.Contains(trim, "=") {
			rest := strings.TrimSpace(trim[strings.IndexByte(trim, '=')+1:])
			if strings.HasPrefix(rest, "[") && !strings.Contains(rest, "]") {
				skipping = true
			}
			out = append(out, name+" = "+value)
			done = true
			continue
		}
		out = append(out, line)
	}
	if !done {
		out = apTomlInsert(t, out, section, name+" = "+value)
	}
	return strings.Join(out, "\n") + "\n"
}

// apTomlInsert adds line at the end of section ("" is the top level, before
// the first section header).
func apTomlInsert(t testing.TB, lines []string, section, line string) []string {
	t.Helper()
	cur, at := "", -1
	for i, l := range lines {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "[") && !strings.Contains(trim, "=") {
			if cur == section && at < 0 {
				at = i
			}
			cur = strings.Trim(trim, "[] ")
			continue
		}
	}
	if at < 0 && cur == section {
		at = len(lines)
	}
	if at < 0 {
		t.Fatalf("tomlSet: no section [%s] in the example config", section)
	}
	return append(lines[:at:at], append([]string{line}, lines[at:]...)...)
}
