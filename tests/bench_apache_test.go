package tests

// End-to-end benchmarks behind BENCHMARKS.md, driven by scripts/bench.sh
// (parts apache, django, memory, checker). They run only with
// MAINTGATE_BENCH=1 and write raw measurements, one JSON object a line, to
// $MAINTGATE_BENCH_OUT/<part>.jsonl; the script turns them into the figures.
//
// Every comparison is measured in one run with the variants taking turns
// (round r: each variant once, in an order rotated per round), so that a
// noisy neighbour on the shared machine slows them alike; the script quotes
// medians and the median of per-round ratios.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// --- knobs and output.

func benchOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("MAINTGATE_BENCH") != "1" {
		t.Skip("a benchmark, not a CI test: set MAINTGATE_BENCH=1 (scripts/bench.sh does)")
	}
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchEnvDur(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchWriter appends JSON records to $MAINTGATE_BENCH_OUT/<part>.jsonl,
// truncated when the test starts.
type benchWriter struct {
	f *os.File
}

func newBenchWriter(t *testing.T, part string) *benchWriter {
	t.Helper()
	dir := os.Getenv("MAINTGATE_BENCH_OUT")
	if dir == "" {
		dir = filepath.Join(repoRoot, "bench", "results")
	}
	apMust(t, os.MkdirAll(dir, 0o755))
	f, err := os.Create(filepath.Join(dir, part+".jsonl"))
	apMust(t, err)
	t.Cleanup(func() { f.Close() })
	return &benchWriter{f: f}
}

func (w *benchWriter) write(t *testing.T, rec map[string]any) {
	t.Helper()
	b, err := json.Marshal(rec)
	apMust(t, err)
	_, err = w.f.Write(append(b, '\n'))
	apMust(t, err)
}

// --- wrk.

type wrkResult struct {
	RPS      float64 `json:"rps"`
	AvgMs    float64 `json:"avg_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	Requests int     `json:"requests"`
	Bad      int     `json:"non_2xx_3xx"`
	Errors   int     `json:"socket_errors"`
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkLatency = regexp.MustCompile(`(?m)^\s+Latency\s+([\d.]+)(us|ms|s)\b`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkReqs    = regexp.MustCompile(`(?m)^\s+(\d+) requests in`)
	wrkBad     = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSock    = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func wrkMs(v, unit string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return f / 1000
	case "s":
		return f * 1000
	}
	return f
}

// runWrk runs wrk against url for d with conns connections on two threads
// (keep-alive, as browsers), with extra header lines.
func runWrk(t *testing.T, url string, d time.Duration, conns int, headers ...string) wrkResult {
	t.Helper()
	args := []string{"--latency", "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d.Seconds())), "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	out, err := exec.Command("wrk", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk %v: %v\n%s", args, err, out)
	}
	s := string(out)
	var r wrkResult
	if m := wrkRPS.FindStringSubmatch(s); m != nil {
		r.RPS, _ = strconv.ParseFloat(m[1], 64)
	} else {
		t.Fatalf("wrk printed no rate:\n%s", s)
	}
	if m := wrkLatency.FindStringSubmatch(s); m != nil {
		r.AvgMs = wrkMs(m[1], m[2])
	}
	for _, m := range wrkPct.FindAllStringSubmatch(s, -1) {
		switch m[1] {
		case "50":
			r.P50Ms = wrkMs(m[2], m[3])
		case "90":
			r.P90Ms = wrkMs(m[2], m[3])
		case "99":
			r.P99Ms = wrkMs(m[2], m[3])
		}
	}
	if m := wrkReqs.FindStringSubmatch(s); m != nil {
		r.Requests, _ = strconv.Atoi(m[1])
	}
	if m := wrkBad.FindStringSubmatch(s); m != nil {
		r.Bad, _ = strconv.Atoi(m[1])
	}
	if m := wrkSock.FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			r.Errors += n
		}
	}
	return r
}

// --- Apache variants built on the harness.

// reconfigure stops Apache, rewrites its generated configuration with
// edit, and starts it again.
func (a *apacheEnv) reconfigure(t *testing.T, edit func(conf string) string) {
	t.Helper()
	a.stop()
	b, err := os.ReadFile(a.conf)
	apMust(t, err)
	apWriteFile(t, a.conf, edit(string(b)))
	a.start(t)
}

// withoutMaintgate drops every shipped maintgate snippet and its Define
// lines: Apache alone, in front of the same backend.
func withoutMaintgate(conf string) string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		if strings.Contains(l, "apache-conf/") || strings.HasPrefix(strings.TrimSpace(l), "Define MAINTGATE_") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// withProgram points the shipped RewriteMap at program instead of the
// harness's line-counting wrapper (whose tee would add a process hop to
// every lookup).
func withProgram(program string) func(string) string {
	return func(conf string) string {
		re := regexp.MustCompile(`(?m)^Define MAINTGATE_BIN .*$`)
		return re.ReplaceAllLiteralString(conf, "Define MAINTGATE_BIN "+program)
	}
}

// withBackend points the application's ProxyPass lines at addr.
func (a *apacheEnv) withBackend(addr string) func(string) string {
	return func(conf string) string { return strings.ReplaceAll(conf, a.backend.addr, addr) }
}

func chain(edits ...func(string) string) func(string) string {
	return func(s string) string {
		for _, e := range edits {
			s = e(s)
		}
		return s
	}
}

// compileEcho builds bench/echo/echo.c into dir, answering word instead of
// "allow" when word is not "allow": the prg floor, a program that answers
// at once.
func compileEcho(t *testing.T, dir, word string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "bench/echo/echo.c"))
	apMust(t, err)
	if !bytes.Contains(src, []byte(`"allow\n"`)) {
		t.Fatal(`bench/echo/echo.c no longer answers "allow\n"`)
	}
	src = bytes.ReplaceAll(src, []byte(`"allow\n"`), []byte(`"`+word+`\n"`))
	c := filepath.Join(dir, "echo-"+word+".c")
	bin := filepath.Join(dir, "echo-"+word)
	apWriteFile(t, c, string(src))
	if out, err := exec.Command("gcc", "-O2", "-o", bin, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	apMust(t, os.Chmod(bin, 0o755))
	return bin
}

// benchPage is the static page: about the size of a small HTML page.
var benchPage = "<!doctype html><title>bench</title>\n" + strings.Repeat("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n", 60)

// withStaticPages serves /pages/ from the DocumentRoot instead of the
// backend (the harness proxies everything but /static/, /media/ and
// /robots.txt, which maintgate always allows): a static page that
// maintenance does gate.
func withStaticPages(conf string) string {
	// The main vhost's own line: the site vhosts above it in the template
	// have theirs too, indented deeper.
	return strings.Replace(conf, "\n    ProxyPass /robots.txt !\n", "\n    ProxyPass /robots.txt !\n    ProxyPass /pages/ !\n", 1)
}

// probe checks what one request gets before and after the measurements,
// so each variant is known to serve what it is said to.
func (a *apacheEnv) probe(t *testing.T, path string, want int) {
	t.Helper()
	r := a.get(t, path)
	if r.status != want {
		t.Fatalf("%s %s: got %v, want %d", a.dir, path, r, want)
	}
	if want == http.StatusFound && !strings.HasSuffix(r.header.Get("Location"), "/maintenance.html") {
		t.Fatalf("%s %s: redirected to %q, want the maintenance page", a.dir, path, r.header.Get("Location"))
	}
	if want == http.StatusOK && strings.HasPrefix(path, "/pages/") && r.body != benchPage {
		t.Fatalf("%s %s: not the static page: %.80q", a.dir, path, r.body)
	}
}

// cpu is the user+system CPU time, in seconds, of this Apache's processes
// and of its map program (prog: the path in its command line), and the
// map program's context switches (all its threads).
func (a *apacheEnv) cpu(prog string) (apache, program float64, switches int) {
	for _, p := range a.procs(a.conf) {
		c, _ := procCPU(p)
		apache += c
	}
	if prog != "" {
		for _, p := range a.procs(prog + " map ") {
			c, _ := procCPU(p)
			program += c
			switches += procSwitches(p)
		}
	}
	return apache, program, switches
}

// procSwitches is the number of context switches, voluntary or not, of
// every thread of a process so far.
func procSwitches(pid int) int {
	n := 0
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

type benchVariant struct {
	name   string
	a      *apacheEnv
	prog   string // the RewriteMap program's path, for its CPU time
	status int    // what the pages get
}

// TestBenchApache: a static page and a proxied page through Apache alone,
// the shipped configuration with maintenance off, on (redirected; allowed
// by the whitelist), and the same configuration with a C program that
// answers at once in place of `maintgate map` (the prg floor: one answering
// "redirect", one "allow").
func TestBenchApache(t *testing.T) {
	benchOnly(t)
	requireTool(t, "wrk", "wrk (Debian package wrk)")
	rounds := benchEnvInt("MAINTGATE_BENCH_ROUNDS", 15)
	dur := benchEnvDur("MAINTGATE_BENCH_DURATION", time.Second)
	conns := benchEnvInt("MAINTGATE_BENCH_CONNS", 16)
	w := newBenchWriter(t, "apache")
	echoDir := t.TempDir()
	echoAllow := compileEcho(t, echoDir, "allow")
	echoRedirect := compileEcho(t, echoDir, "redirect")

	// The shipped example config as an operator runs it: log level info,
	// one line per redirect (the harness itself logs at debug).
	level := func(l string, more ...string) map[string]string {
		m := map[string]string{"log.level": strconv.Quote(l)}
		for i := 0; i+1 < len(more); i += 2 {
			m[more[i]] = more[i+1]
		}
		return m
	}
	mk := func(name string, toml map[string]string, status int, prog string, edit func(string) string) benchVariant {
		a := startApache(t, apacheOpts{toml: toml})
		apMust(t, os.MkdirAll(filepath.Join(a.dir, "www", "pages"), 0o755))
		apWriteFile(t, filepath.Join(a.dir, "www", "pages", "index.html"), benchPage)
		v := benchVariant{name: name, a: a, status: status}
		switch prog {
		case "wrapper": // the harness's line-counting wrapper stays
			v.prog = a.bin
			a.reconfigure(t, chain(withStaticPages, edit))
		case "maintgate": // maintgate itself, without the wrapper's tee
			v.prog = a.bin
			a.reconfigure(t, chain(withStaticPages, withProgram(a.bin), edit))
		default: // a C echo program
			v.prog = filepath.Join(a.dir, "bin", filepath.Base(prog))
			apCopyFile(t, prog, v.prog, 0o755)
			a.reconfigure(t, chain(withStaticPages, withProgram(v.prog), edit))
		}
		if prog != "wrapper" {
			a.on(t) // every variant with its own program measures maintenance on
		}
		return v
	}
	same := func(s string) string { return s }
	// The contract's state-map check alone, in place of the vhost and
	// fallback snippets: what asking "is maintenance on?" costs by itself.
	stateOnly := filepath.Join(t.TempDir(), "state-only.conf")
	// The site's line, as the contract's Sites section asks it (the Define
	// copied into a variable first: Apache does not substitute a Define
	// inside ${map:…}).
	apWriteFile(t, stateOnly, "RewriteEngine On\nRewriteRule ^ - [E=MAINTGATE_SITE:default]\nRewriteCond ${mgstate:%{ENV:MAINTGATE_SITE}|on} =on\nRewriteRule ^ - [E=MAINTGATE_STATE:on]\n")
	onlyStateCheck := func(conf string) string {
		conf = strings.Replace(conf, filepath.Join(repoRoot, "apache-conf", "maintgate-vhost.conf"), stateOnly, 1)
		var out []string
		for _, l := range strings.Split(conf, "\n") {
			if !strings.Contains(l, "maintgate-fallback.conf") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	// Groups of variants compared with each other; a round runs the
	// groups in turn, each group's variants back to back, in an order
	// that changes from round to round.
	groups := [][]benchVariant{
		{
			mk("apache", nil, 200, "wrapper", withoutMaintgate),
			// Maintenance off keeps the wrapper: it counts the key lines
			// Apache sends, which must stay zero.
			mk("off", level("info"), 200, "wrapper", same),
			mk("state_only", level("info"), 200, "wrapper", onlyStateCheck),
		},
		{
			mk("on_redirect", level("info"), 302, "maintgate", same),
			mk("echo_redirect", level("info"), 302, echoRedirect, same),
			// The same without a log line per redirect: what logging costs.
			mk("on_redirect_quiet", level("warn"), 302, "maintgate", same),
		},
		{
			mk("on_whitelist", level("info", "whitelist", `["127.0.0.1"]`), 200, "maintgate", same),
			mk("echo_allow", level("info"), 200, echoAllow, same),
		},
	}
	paths := []struct{ name, path string }{{"static", "/pages/index.html"}, {"proxied", "/app/page"}}
	var all []benchVariant
	for _, g := range groups {
		all = append(all, g...)
	}
	for _, v := range all {
		for _, p := range paths {
			v.a.probe(t, p.path, v.status)
			runWrk(t, v.a.base+p.path, time.Second, conns) // warm up
		}
	}
	offRequests := 0
	for r := 0; r < rounds; r++ {
		for gi := range groups {
			g := groups[(gi+r)%len(groups)]
			for _, p := range paths {
				for i := range g {
					v := g[(i+r)%len(g)]
					a0, p0, s0 := v.a.cpu(v.prog)
					res := runWrk(t, v.a.base+p.path, dur, conns)
					a1, p1, s1 := v.a.cpu(v.prog)
					if res.Bad > 0 || res.Errors > 0 {
						t.Errorf("%s %s: %d responses not 2xx/3xx, %d socket errors", v.name, p.path, res.Bad, res.Errors)
					}
					if v.name == "off" {
						offRequests += res.Requests
					}
					perReq := func(s float64) float64 { return 1e6 * s / math.Max(1, float64(res.Requests)) }
					w.write(t, map[string]any{"round": r, "variant": v.name, "path": p.name, "seconds": dur.Seconds(), "conns": conns,
						"rps": res.RPS, "avg_ms": res.AvgMs, "p50_ms": res.P50Ms, "p90_ms": res.P90Ms, "p99_ms": res.P99Ms,
						"requests": res.Requests, "non_2xx_3xx": res.Bad, "socket_errors": res.Errors,
						"apache_cpu_us": perReq(a1 - a0), "map_cpu_us": perReq(p1 - p0),
						"map_switches": float64(s1-s0) / math.Max(1, float64(res.Requests))})
					t.Logf("round %d %-17s %-7s %8.0f req/s p50 %.2f ms p99 %.2f ms; CPU per request: Apache %.0f µs, map %.1f µs",
						r, v.name, p.name, res.RPS, res.P50Ms, res.P99Ms, perReq(a1-a0), perReq(p1-p0))
				}
			}
		}
	}
	for _, v := range all {
		for _, p := range paths {
			v.a.probe(t, p.path, v.status)
		}
	}
	off := groups[0][1].a
	lines := off.lookups()
	w.write(t, map[string]any{"kind": "off_lookups", "requests": offRequests, "lines": lines})
	if lines != 0 {
		t.Errorf("maintenance off: the map received %d lines for %d requests, want 0", lines, offRequests)
	}
}

// procCPU is a process's user+system CPU time in seconds.
func procCPU(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, true // USER_HZ is 100 on Linux
}

// --- Django.

// startGunicorn serves bench/django (the original's middleware in a stock
// Django project) with Debian's gunicorn; stopped in Cleanup.
func startGunicorn(t *testing.T, workers int, env []string) string {
	t.Helper()
	requireTool(t, "/usr/bin/gunicorn", "gunicorn (Debian package gunicorn)")
	port := testsvc.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command("/usr/bin/gunicorn", "--workers", strconv.Itoa(workers), "--bind", addr,
		"--chdir", filepath.Join(repoRoot, "bench", "django"), "--log-level", "warning", "benchsite.wsgi:application")
	cmd.Env = append(os.Environ(), append(env, "PYTHONDONTWRITEBYTECODE=1", "DJANGO_SETTINGS_MODULE=benchsite.settings")...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	apMust(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("gunicorn did not listen on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBenchDjango: the same maintenance redirect made by the original
// approach (the Django middleware under gunicorn, behind Apache as reverse
// proxy) and by maintgate in Apache (the shipped config, maintenance on).
func TestBenchDjango(t *testing.T) {
	benchOnly(t)
	requireTool(t, "wrk", "wrk (Debian package wrk)")
	rounds := benchEnvInt("MAINTGATE_BENCH_ROUNDS", 15)
	dur := benchEnvDur("MAINTGATE_BENCH_DURATION", time.Second)
	conns := benchEnvInt("MAINTGATE_BENCH_CONNS", 16)
	workers := benchEnvInt("MAINTGATE_BENCH_GUNICORN_WORKERS", 5)
	w := newBenchWriter(t, "django")

	dir := t.TempDir()
	flag := filepath.Join(dir, "maintenance_mode")
	apWriteFile(t, flag, "")
	app := startGunicorn(t, workers, []string{
		"BENCH_DB=" + filepath.Join(dir, "db.sqlite3"),
		"MAINTENANCE_FLAG_FILE=" + flag,
		"MAINTENANCE_WHITELIST=192.168.1.100,10.0.0.0/8",
		"MAINTENANCE_LOG=" + filepath.Join(dir, "mgmt.log"),
	})

	dj := startApache(t, apacheOpts{})
	dj.reconfigure(t, chain(withoutMaintgate, dj.withBackend(app)))
	gated := startApache(t, apacheOpts{toml: map[string]string{"log.level": `"info"`}})
	gated.reconfigure(t, chain(withProgram(gated.bin), gated.withBackend(app)))
	gated.on(t)
	variants := []benchVariant{{name: "django", a: dj, status: 302}, {name: "maintgate", a: gated, status: 302}}
	const path = "/de/map/"
	for _, v := range variants {
		v.a.probe(t, path, v.status)
		runWrk(t, v.a.base+path, time.Second, conns)
	}
	for r := 0; r < rounds; r++ {
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			res := runWrk(t, v.a.base+path, dur, conns)
			if res.Bad > 0 || res.Errors > 0 {
				t.Errorf("%s: %d responses not 2xx/3xx, %d socket errors", v.name, res.Bad, res.Errors)
			}
			w.write(t, map[string]any{"round": r, "variant": v.name, "path": path, "seconds": dur.Seconds(), "conns": conns, "workers": workers,
				"rps": res.RPS, "avg_ms": res.AvgMs, "p50_ms": res.P50Ms, "p90_ms": res.P90Ms, "p99_ms": res.P99Ms,
				"requests": res.Requests, "non_2xx_3xx": res.Bad, "socket_errors": res.Errors})
			t.Logf("round %d %-9s %8.0f req/s p50 %.2f ms p99 %.2f ms", r, v.name, res.RPS, res.P50Ms, res.P99Ms)
		}
	}
	for _, v := range variants {
		v.a.probe(t, path, v.status)
	}
	// The Django redirects were made by the middleware (its log line per
	// redirect), not by Apache.
	b, _ := os.ReadFile(filepath.Join(dir, "mgmt.log"))
	n := bytes.Count(b, []byte("Redirecting IP"))
	w.write(t, map[string]any{"kind": "django_log_lines", "lines": n})
	if n == 0 {
		t.Error("the Django middleware logged no redirect")
	}
}

// --- memory.

// TestBenchMemory: the resident size of `maintgate map` with 0, 10k and
// 100k superuser sessions in its cache. The sessions are real (Django's own
// SessionStore.encode, bench/django/mkmany.py); each cookie goes through
// the map once, which looks it up in SQLite and caches the answer.
func TestBenchMemory(t *testing.T) {
	benchOnly(t)
	total := benchEnvInt("MAINTGATE_BENCH_SESSIONS", 100000)
	stages := []int{0, 10000, total}
	if total <= 10000 {
		stages = []int{0, total}
	}
	w := newBenchWriter(t, "memory")
	dir := t.TempDir()
	secret := "memory-bench-secret-key-0123456789-abcdefghijklmnop"
	apWriteFileMode(t, filepath.Join(dir, "secret.key"), secret+"\n", 0o600)
	db := filepath.Join(dir, "db.sqlite3")
	keysFile := filepath.Join(dir, "keys.txt")
	start := time.Now()
	cmd := exec.Command("/usr/bin/python3", filepath.Join(repoRoot, "bench/django/mkmany.py"),
		"--db", db, "--secret", secret, "--count", strconv.Itoa(total), "--keys", keysFile)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkmany.py: %v\n%s", err, out)
	}
	t.Logf("%d sessions made in %v", total, time.Since(start).Round(time.Millisecond))
	kb, err := os.ReadFile(keysFile)
	apMust(t, err)
	keys := strings.Fields(string(kb))
	if len(keys) != total {
		t.Fatalf("%d keys, want %d", len(keys), total)
	}
	cfg := filepath.Join(dir, "maintgate.toml")
	apWriteFile(t, cfg, fmt.Sprintf(`flag_file = %q
state_map = %q
[log]
file = %q
level = "info"
[session]
store = "django"
database = "sqlite:%s"
secret_key_file = %q
cache_size = %d
cache_ttl = "1h"
negative_ttl = "1h"
lookup_timeout = "5s"
miss_rate = 1000000
`, filepath.Join(dir, "maintenance"), filepath.Join(dir, "state.map"), filepath.Join(dir, "maintgate.log"),
		db, filepath.Join(dir, "secret.key"), total))
	if out, err := exec.Command(maintgate, "on", "-config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("maintgate on: %v\n%s", err, out)
	}

	m := exec.Command(maintgate, "map", "-config", cfg)
	// gctrace: one line per garbage collection on stderr, with the live
	// heap after it (the third figure of "A->B->C MB").
	m.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	gcLog := filepath.Join(dir, "gctrace.log")
	gcf, err := os.Create(gcLog)
	apMust(t, err)
	defer gcf.Close()
	m.Stderr = gcf
	stdin, err := m.StdinPipe()
	apMust(t, err)
	stdout, err := m.StdoutPipe()
	apMust(t, err)
	apMust(t, m.Start())
	t.Cleanup(func() { stdin.Close(); m.Wait() })
	in := bufio.NewWriter(stdin)
	out := bufio.NewReader(stdout)

	// feed sends the lines and reads as many answers (pipelined: the map
	// answers in order), returning the answers counted by word.
	feed := func(lines []string) map[string]int {
		errc := make(chan error, 1)
		go func() {
			for _, l := range lines {
				if _, err := in.WriteString(l + "\n"); err != nil {
					errc <- err
					return
				}
			}
			errc <- in.Flush()
		}()
		got := map[string]int{}
		for range lines {
			a, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("reading answers: %v", err)
			}
			got[strings.TrimSpace(a)]++
		}
		apMust(t, <-errc)
		return got
	}
	line := func(key string) string { return "203.0.113.7 /de/map/  csrftoken=x;%20sessionid=" + key }
	measure := func(stage string, sessions int, answers map[string]int, elapsed time.Duration) {
		time.Sleep(300 * time.Millisecond) // let the background GC settle
		st := procStatus(t, m.Process.Pid)
		rec := map[string]any{"stage": stage, "sessions": sessions, "answers": answers, "seconds": elapsed.Seconds(),
			"vmrss_kb": st["VmRSS"], "vmhwm_kb": st["VmHWM"], "rss_anon_kb": st["RssAnon"], "rss_file_kb": st["RssFile"], "threads": st["Threads"]}
		if g, ok := lastGC(gcLog); ok {
			rec["gc"] = g
		}
		w.write(t, rec)
		t.Logf("%-12s %6d sessions: VmRSS %d kB (HWM %d kB, anon %d kB), answers %v in %v", stage, sessions, st["VmRSS"], st["VmHWM"], st["RssAnon"], answers, elapsed.Round(time.Millisecond))
	}

	// 0: a started map that has answered a few lines without a session.
	t0 := time.Now()
	measure("fill", 0, feed([]string{"203.0.113.7 /de/map/  ", "203.0.113.7 /static/a.css  ", "203.0.113.7 /de/map/  csrftoken=x"}), time.Since(t0))
	done := 0
	for _, n := range stages[1:] {
		lines := make([]string, 0, n-done)
		for _, k := range keys[done:n] {
			lines = append(lines, line(k))
		}
		t0 := time.Now()
		ans := feed(lines)
		el := time.Since(t0)
		if ans["allow"] != n-done {
			t.Errorf("%d new sessions: answers %v, want all allow", n-done, ans)
		}
		done = n
		measure("fill", n, ans, el)
	}
	// Every session again: now from the cache, no database query.
	lines := make([]string, 0, total)
	for _, k := range keys {
		lines = append(lines, line(k))
	}
	t0 = time.Now()
	ans := feed(lines)
	measure("cached_pass", total, ans, time.Since(t0))
	if ans["allow"] != total {
		t.Errorf("second pass: answers %v, want all allow", ans)
	}
}

// procStatus reads the kB and count fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	apMust(t, err)
	m := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.Atoi(f[0]); err == nil {
			m[k] = n
		}
	}
	return m
}

var gcLine = regexp.MustCompile(`gc (\d+) @[\d.]+s .*?([\d.]+)->([\d.]+)->([\d.]+) MB, ([\d.]+) MB goal`)

// lastGC returns the figures of the last gctrace line: live heap after the
// collection and the next goal, in MB.
func lastGC(path string) (map[string]float64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	ms := gcLine.FindAllStringSubmatch(string(b), -1)
	if len(ms) == 0 {
		return nil, false
	}
	m := ms[len(ms)-1]
	f := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	return map[string]float64{"gcs": f(m[1]), "heap_before_mb": f(m[2]), "heap_live_mb": f(m[4]), "heap_goal_mb": f(m[5])}, true
}

// --- the mod_authnz_external checker.

type checkerCase struct {
	name  string
	argv  []string
	env   []string
	stdin string
	want  int // exit status
	every int // run on every n-th turn (1: always)
	// before runs ahead of each run, outside the time measured.
	before func()
}

// runOnce forks and execs the case as mod_authnz_external's pipe method
// does (credentials written to a pipe on stdin, the variables in the
// environment) and returns the time from fork to the reaped exit.
func (c checkerCase) runOnce(t *testing.T) time.Duration {
	t.Helper()
	if c.before != nil {
		c.before()
	}
	r, wp, err := os.Pipe()
	apMust(t, err)
	io.WriteString(wp, c.stdin)
	wp.Close()
	start := time.Now()
	p, err := os.StartProcess(c.argv[0], c.argv, &os.ProcAttr{Env: c.env, Files: []*os.File{r, nil, nil}})
	if err != nil {
		r.Close()
		t.Fatalf("%s: %v", c.name, err)
	}
	st, err := p.Wait()
	el := time.Since(start)
	r.Close()
	apMust(t, err)
	if st.ExitCode() != c.want {
		t.Fatalf("%s: exit %d, want %d", c.name, st.ExitCode(), c.want)
	}
	return el
}

// TestBenchChecker: fork-to-exit latency of `maintgate authz` as
// mod_authnz_external runs it, for an allowed (whitelisted) and a denied
// request, beside the fork-exec floor (/bin/true).
func TestBenchChecker(t *testing.T) {
	benchOnly(t)
	runs := benchEnvInt("MAINTGATE_BENCH_CHECKER_RUNS", 500)
	w := newBenchWriter(t, "checker")
	dir := t.TempDir()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*7 + 3)
	}
	apWriteFileMode(t, filepath.Join(dir, "token.key"), string(key), 0o600)
	base := fmt.Sprintf(`flag_file = %q
state_map = %q
whitelist = ["192.0.2.10", "10.0.0.0/8"]
[log]
file = %q
level = "info"
[token]
key_file = %q
`, filepath.Join(dir, "maintenance"), filepath.Join(dir, "state.map"), filepath.Join(dir, "authz.log"), filepath.Join(dir, "token.key"))
	shipped := filepath.Join(dir, "shipped.toml")
	apWriteFile(t, shipped, base)
	dj := newApDjango(t)
	withDjango := filepath.Join(dir, "django.toml")
	apWriteFile(t, withDjango, base+fmt.Sprintf("[session]\nstore = \"django\"\ndatabase = \"sqlite:%s\"\nsecret_key_file = %q\n", dj.db, dj.secretFile))
	if out, err := exec.Command(maintgate, "on", "-config", shipped).CombinedOutput(); err != nil {
		t.Fatalf("maintgate on: %v\n%s", err, out)
	}

	env := func(ip, cookie string) []string {
		return []string{"AUTHTYPE=PASS", "CONTEXT=", "IP=" + ip, "URI=/staff/x", "COOKIE=" + cookie,
			"HTTP_HOST=example.org", "PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	authz := func(cfg string) []string { return []string{maintgate, "authz", "-config", cfg} }
	creds := "someone\nnot-a-password\n"
	// What any Go program costs to start: an empty main, same toolchain.
	goFloor := filepath.Join(dir, "empty")
	apMust(t, os.MkdirAll(filepath.Join(dir, "emptysrc"), 0o755))
	apWriteFile(t, filepath.Join(dir, "emptysrc", "go.mod"), "module empty\n")
	apWriteFile(t, filepath.Join(dir, "emptysrc", "main.go"), "package main\n\nfunc main() {}\n")
	build := exec.Command("go", "build", "-o", goFloor, ".")
	build.Dir = filepath.Join(dir, "emptysrc")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of an empty program: %v\n%s", err, out)
	}
	cases := []checkerCase{
		{name: "floor", argv: []string{"/bin/true"}, env: env("192.0.2.10", ""), stdin: creds, want: 0, every: 1},
		{name: "go_floor", argv: []string{goFloor}, env: env("192.0.2.10", ""), stdin: creds, want: 0, every: 1},
		// The binary starting and exiting, reading no config: its startup.
		{name: "version", argv: []string{maintgate, "version"}, env: env("192.0.2.10", ""), stdin: creds, want: 0, every: 1},
		{name: "allowed", argv: authz(shipped), env: env("192.0.2.10", "csrftoken=x"), stdin: creds, want: 0, every: 1},
		{name: "denied", argv: authz(shipped), env: env("203.0.113.7", "csrftoken=x"), stdin: creds, want: 1, every: 1},
	}
	// The same source built with cgo (scripts/bench.sh: CGO_ENABLED=1), to
	// show what that build mode costs at every fork.
	if alt := os.Getenv("MAINTGATE_BENCH_ALT_BIN"); alt != "" {
		altAuthz := []string{alt, "authz", "-config", shipped}
		cases = append(cases,
			checkerCase{name: "allowed_cgo", argv: altAuthz, env: env("192.0.2.10", "csrftoken=x"), stdin: creds, want: 0, every: 1},
			checkerCase{name: "denied_cgo", argv: altAuthz, env: env("203.0.113.7", "csrftoken=x"), stdin: creds, want: 1, every: 1})
	}
	cases = append(cases, []checkerCase{
		{name: "django_allowed", argv: authz(withDjango), env: env("192.0.2.10", "csrftoken=x"), stdin: creds, want: 0, every: 1},
		{name: "django_session", argv: authz(withDjango), env: env("203.0.113.7", "csrftoken=x; sessionid="+dj.cookie(t, "superuser")), stdin: creds, want: 0, every: 1},
		{name: "django_denied_password", argv: authz(withDjango), env: env("203.0.113.7", "csrftoken=x"), stdin: "admin\nwrong-password\n", want: 1, every: 10,
			// A fresh guess record each time: after 5 failures the checker
			// refuses without a derivation, which is not what this measures.
			before: func() { os.RemoveAll(filepath.Join(dir, "authz")) }},
	}...)
	for _, c := range cases { // warm the page cache
		c.runOnce(t)
	}
	lat := map[string][]time.Duration{}
	for i := 0; i < runs; i++ {
		for j := range cases {
			c := cases[(i+j)%len(cases)]
			if i%c.every != 0 {
				continue
			}
			lat[c.name] = append(lat[c.name], c.runOnce(t))
		}
	}
	for _, c := range cases {
		ds := lat[c.name]
		us := make([]float64, len(ds))
		for i, d := range ds {
			us[i] = float64(d.Microseconds())
		}
		w.write(t, map[string]any{"case": c.name, "runs": len(us), "us": us})
		slices.Sort(us)
		t.Logf("%-24s %4d runs p50 %7.2f ms p99 %7.2f ms", c.name, len(us), us[len(us)/2]/1000, us[int(math.Min(float64(len(us)-1), float64(len(us))*0.99))]/1000)
	}
}
