package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// site is one maintgate installation in a temp dir: config, flag, state map.
type site struct {
	dir, config, flag, state, log string
}

func newSite(t testing.TB, extra string) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{
		dir:    dir,
		config: filepath.Join(dir, "maintgate.toml"),
		flag:   filepath.Join(dir, "maintenance"),
		state:  filepath.Join(dir, "state.map"),
		log:    filepath.Join(dir, "maintgate.log"),
	}
	s.writeConfig(t, extra)
	return s
}

func (s *site) writeConfig(t testing.TB, extra string) {
	t.Helper()
	text := fmt.Sprintf("flag_file = %q\nstate_map = %q\nwhitelist = [\"192.168.1.100\", \"10.0.0.0/8\"]\n%s\n[log]\nfile = %q\nlevel = \"debug\"\n", s.flag, s.state, extra, s.log)
	if err := os.WriteFile(s.config+".tmp", []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(s.config+".tmp", s.config); err != nil {
		t.Fatal(err)
	}
}

func (s *site) on(t testing.TB)  { t.Helper(); mg(t, s.config, 0, "on") }
func (s *site) off(t testing.TB) { t.Helper(); mg(t, s.config, 0, "off") }

// logHas reports whether a JSON log line has all of the given fields.
func (s *site) logHas(t testing.TB, fields map[string]string) bool {
	t.Helper()
	for _, line := range strings.Split(s.logText(t), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		ok := true
		for k, v := range fields {
			if fmt.Sprint(m[k]) != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// waitLog waits up to a second for text to reach the log (map logs
// asynchronously) and returns the log.
func (s *site) waitLog(t testing.TB, text string) string {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		log := s.logText(t)
		if strings.Contains(log, text) || time.Now().After(deadline) {
			return log
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *site) logText(t testing.TB) string {
	t.Helper()
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// mapProc is a running `maintgate map`, driven in lock step like Apache.
type mapProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	errb *syncBuffer
}

// syncBuffer is a bytes.Buffer that a child's stderr copier and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startMap(t testing.TB, s *site) *mapProc {
	t.Helper()
	return startProc(t, exec.Command(maintgate, "map", "-config", s.config))
}

// startProc starts a prg: map program and stops it when the test ends.
func startProc(t testing.TB, cmd *exec.Cmd) *mapProc {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := &syncBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &mapProc{t: t, cmd: cmd, in: in, out: bufio.NewReader(out), errb: errb}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if strings.Contains(errb.String(), "DATA RACE") {
			t.Errorf("race in %s:\n%s", cmd.Path, errb.String())
		}
	})
	return m
}

// ask sends one key line and returns the one answer line.
func (m *mapProc) ask(line string) string {
	m.t.Helper()
	if _, err := io.WriteString(m.in, line+"\n"); err != nil {
		m.t.Fatalf("write: %v (stderr: %s)", err, m.errb.String())
	}
	return m.answer()
}

// askFast is ask without the watchdog goroutine, for benchmarks.
func (m *mapProc) askFast(line string) string {
	io.WriteString(m.in, line+"\n")
	s, err := m.out.ReadString('\n')
	if err != nil {
		m.t.Fatalf("read answer: %v", err)
	}
	return s
}

func (m *mapProc) answer() string {
	m.t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := m.out.ReadString('\n'); ch <- res{s, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			m.t.Fatalf("read answer: %v (stderr: %s)", r.err, m.errb.String())
		}
		return strings.TrimSuffix(r.s, "\n")
	case <-time.After(10 * time.Second):
		m.t.Fatalf("no answer within 10s (stderr: %s)", m.errb.String())
	}
	return ""
}

// until asks line repeatedly until the answer is want, and returns how long
// that took; it fails after limit.
func (m *mapProc) until(line, want string, limit time.Duration) time.Duration {
	m.t.Helper()
	start := time.Now()
	for {
		if got := m.ask(line); got == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			m.t.Fatalf("answer to %q not %q after %s", line, want, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

const blocked = "203.0.113.7 /de/map/  "

func TestMapInactiveAllowsAll(t *testing.T) {
	s := newSite(t, "")
	s.off(t)
	m := startMap(t, s)
	for _, line := range []string{blocked, "", "garbage", "\x00\xff", strings.Repeat("a", 1<<20)} {
		if got := m.ask(line); got != "allow" {
			t.Errorf("inactive: %.40q answered %q", line, got)
		}
	}
}

func TestMapActiveDecisions(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	for line, want := range map[string]string{
		blocked:                                   "redirect",
		"203.0.113.7 /static/app.css  ":           "allow",
		"203.0.113.7 /de/admin/  ":                "allow",
		"203.0.113.7 /administrator  ":            "redirect",
		"192.168.1.100 /de/map/  ":                "allow",
		"203.0.113.7 /de/map/ 192.168.1.100 ":     "redirect", // untrusted peer: XFF ignored
		"10.9.8.7 /de/map/ %20 a=b;%20c=d":        "allow",
		"::ffff:10.9.8.7 /de/map/  ":              "allow",
		"203.0.113.7 /static/%2e%2e/de/map/  ":    "redirect", // Apache never sends this; decoded, it leaves /static/
		"203.0.113.7 /static/../de/map/  ":        "redirect",
		"203.0.113.7 /de/map/  sessionid=abc%3Bx": "redirect",
	} {
		if got := m.ask(line); got != want {
			t.Errorf("%q: %s, want %s", line, got, want)
		}
	}
}

// TestMapHostileInput: one answer per line, in order, whatever the line.
func TestMapHostileInput(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	hostile := []string{
		"",
		" ",
		"   ",
		"203.0.113.7",
		"203.0.113.7 /",
		"203.0.113.7 / x",
		"203.0.113.7 / x y z",
		"203.0.113.7 /%zz  ",
		"not-an-ip /  ",
		"\x00\x00\x00",
		"\xff\xfe\xfd /\xc0\xaf  ",
		"203.0.113.7 /de/map/  \r",
		"NULL",
		"@retry-after",
		"@unknown",
		strings.Repeat("A", 16<<20),
		"203.0.113.7 /" + strings.Repeat("%41", 100000) + "  ",
	}
	for i, line := range hostile {
		got := m.ask(line)
		want := "redirect"
		if line == "@retry-after" {
			want = "none"
		}
		if got != want {
			t.Errorf("hostile line %d (%.30q...): %q, want %q", i, line, got, want)
		}
		// The next ordinary line still gets its own answer: no desync.
		if got := m.ask("192.168.1.100 /x  "); got != "allow" {
			t.Fatalf("after hostile line %d: desync, got %q", i, got)
		}
	}
	// CRLF and a lone CR are line endings Apache never sends; they must not
	// produce extra answers.
	io.WriteString(m.in, "192.168.1.100 /a  \r\n203.0.113.7 /b  \r\n")
	if a, b := m.answer(), m.answer(); a != "allow" || b != "redirect" {
		t.Errorf("CRLF lines: %q %q", a, b)
	}
	if !strings.Contains(s.logText(t), "unreadable request line") {
		t.Errorf("unreadable lines not logged:\n%s", s.logText(t))
	}
}

// TestMapOnErrorAllow: an operator may choose to fail open for lines it
// cannot read; the default is to fail closed.
func TestMapOnErrorAllow(t *testing.T) {
	s := newSite(t, `on_error = "allow"`)
	s.on(t)
	m := startMap(t, s)
	if got := m.ask("garbage"); got != "allow" {
		t.Errorf("on_error=allow: %q", got)
	}
	if got := m.ask(blocked); got != "redirect" {
		t.Errorf("readable line: %q", got)
	}
}

// TestMapUnreadableFloodIsRateLimited: a flood of bad lines cannot fill
// the disk.
func TestMapUnreadableFloodIsRateLimited(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.WriteString("garbage\n")
	}
	go io.WriteString(m.in, b.String())
	for i := 0; i < 5000; i++ {
		if got := m.answer(); got != "redirect" {
			t.Fatalf("line %d: %q", i, got)
		}
	}
	time.Sleep(50 * time.Millisecond) // the async log flushes every 10ms
	if n := strings.Count(s.logText(t), "unreadable request line"); n == 0 || n > 40 {
		t.Errorf("%d log lines for 5000 unreadable lines, want a few", n)
	}
}

func TestMapFlagToggle(t *testing.T) {
	s := newSite(t, "")
	s.off(t)
	m := startMap(t, s)
	if got := m.ask(blocked); got != "allow" {
		t.Fatalf("off: %q", got)
	}
	// touch, as the original document does it
	if err := os.WriteFile(s.flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	on := m.until(blocked, "redirect", time.Second)
	if st := waitState(t, s, "on", time.Second); st != "on" {
		t.Errorf("state map says %q after touch", st)
	}
	os.Remove(s.flag)
	off := m.until(blocked, "allow", time.Second)
	if st := waitState(t, s, "off", time.Second); st != "off" {
		t.Errorf("state map says %q after rm", st)
	}
	t.Logf("touch seen after %s, rm after %s", on, off)
	// maintgate on / off
	s.on(t)
	m.until(blocked, "redirect", time.Second)
	s.off(t)
	m.until(blocked, "allow", time.Second)
}

func waitState(t testing.TB, s *site, want string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	var got string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(s.state)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "state ") {
				got = strings.TrimPrefix(l, "state ")
			}
		}
		if got == want {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	return got
}

// TestMapRewritesLostStateMap: Apache refuses to start without the state
// map, and a running Apache asks for every request while it is gone.
func TestMapRewritesLostStateMap(t *testing.T) {
	s := newSite(t, "")
	s.off(t)
	startMap(t, s)
	os.Remove(s.state)
	if got := waitState(t, s, "off", 2*time.Second); got != "off" {
		t.Fatalf("state map not rewritten: %q", got)
	}
}

func TestMapWindowEnds(t *testing.T) {
	s := newSite(t, "")
	until := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	if err := os.WriteFile(s.flag, []byte("until = "+until+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mg(t, s.config, 0, "status")
	m := startMap(t, s)
	if got := m.ask(blocked); got != "redirect" {
		t.Fatalf("inside the window: %q", got)
	}
	if got := m.ask("@retry-after"); got != "1" && got != "2" {
		t.Errorf("@retry-after = %q", got)
	}
	m.until(blocked, "allow", 3*time.Second)
	if got := waitState(t, s, "off", time.Second); got != "off" {
		t.Errorf("state map after the window: %q", got)
	}
}

func TestMapConfigReload(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	if got := m.ask("198.51.100.4 /x  "); got != "redirect" {
		t.Fatalf("before: %q", got)
	}
	s.writeConfig(t, `whitelist_file = "`+filepath.Join(s.dir, "wl.txt")+`"`)
	os.WriteFile(filepath.Join(s.dir, "wl.txt"), []byte("# office\n198.51.100.0/24\n10.0.0/8\n"), 0o644)
	m.until("198.51.100.4 /x  ", "allow", 2*time.Second)
	if log := s.waitLog(t, `wl.txt:3: \"10.0.0/8\" is not an IP or CIDR; line skipped`); !strings.Contains(log, `wl.txt:3: \"10.0.0/8\" is not an IP or CIDR; line skipped`) {
		t.Errorf("bad whitelist line not reported with file:line:\n%s", log)
	}
	// A broken config keeps the last good one.
	os.WriteFile(s.config, []byte("flag_file = [broken\n"), 0o644)
	time.Sleep(300 * time.Millisecond)
	if got := m.ask("198.51.100.4 /x  "); got != "allow" {
		t.Errorf("after a broken reload: %q, want the last good config's allow", got)
	}
	if got := m.ask(blocked); got != "redirect" {
		t.Errorf("after a broken reload: %q", got)
	}
	if log := s.logText(t); !strings.Contains(log, "keeping the last good configuration") {
		t.Errorf("broken reload not logged:\n%s", log)
	}
}

// TestMapExitsAtEOF: Apache closing the pipe ends the helper at once.
func TestMapExitsAtEOF(t *testing.T) {
	s := newSite(t, "")
	cmd := exec.Command(maintgate, "map", "-config", s.config)
	cmd.Stdin = strings.NewReader(blocked + "\n" + blocked)
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if out.String() != "allow\nallow\n" {
		t.Errorf("output %q", out.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s to exit", d)
	}
}

// TestMapStdoutClosed: a closed stdout ends the helper cleanly.
func TestMapStdoutClosed(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	cmd := exec.Command(maintgate, "map", "-config", s.config)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for i := 0; i < 3; i++ {
		io.WriteString(in, blocked+"\n")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after stdout closed: %v", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 5s after stdout was closed")
	}
}

func TestMapLogsReasons(t *testing.T) {
	s := newSite(t, "")
	s.on(t)
	m := startMap(t, s)
	m.ask(blocked)
	m.ask("192.168.1.100 /de/map/  ")
	m.ask("203.0.113.7 /admin/  ")
	m.ask("203.0.113.7 /de/map/  sessionid=secretsessionvalue123")
	time.Sleep(50 * time.Millisecond)
	for _, want := range []map[string]string{
		{"level": "info", "ip": "203.0.113.7", "path": "/de/map/", "message": "redirecting to maintenance page"},
		{"level": "debug", "reason": "whitelisted IP", "ip": "192.168.1.100", "path": "/de/map/", "message": "allowing during maintenance"},
		{"level": "debug", "reason": "admin path", "ip": "203.0.113.7", "path": "/admin/"},
	} {
		if !s.logHas(t, want) {
			t.Errorf("log has no line with %v\n%s", want, s.logText(t))
		}
	}
	log := s.logText(t)
	if strings.Contains(log, "secretsessionvalue123") {
		t.Error("a cookie value reached the log")
	}
}
