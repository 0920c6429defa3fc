package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/internal/testsvc"
)

// The fleet (issue 14) through the built binary: N `maintgate map`
// processes, each with its own directory and config (stand-ins for N
// hosts), one redis-server on loopback with a password and TLS, and the
// operator's commands run on one host.

// fleetHosts is how many maps the CI test runs; the 100-host run is
// TestBenchFleet (MAINTGATE_BENCH=1).
const fleetHosts = 20

// fleetHost is one host of the fleet: its installation and its map.
type fleetHost struct {
	*site
	m *mapProc
}

// newFleetHost makes an installation following the Redis at url, with
// a site shop beside the server-wide switch.
func newFleetHost(t testing.TB, url, resync string) *fleetHost {
	t.Helper()
	return &fleetHost{site: newSite(t, fmt.Sprintf("[sites.shop]\n[fleet]\nredis = %q\nresync = %q", url, resync))}
}

// mgAll runs a command and returns its exit status, stdout and stderr.
func mgAll(t testing.TB, cfg string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(maintgate, args...)
	cmd.Env = append(os.Environ(), "MAINTGATE_CONFIG="+cfg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String(), stderr.String()
	} else if err != nil {
		t.Fatalf("maintgate %s: %v", strings.Join(args, " "), err)
	}
	return 0, stdout.String(), stderr.String()
}

// switched waits until every host answers want for a line that maintenance
// redirects and returns, for each host, how long after start it first did.
func switched(t testing.TB, hosts []*fleetHost, want string, start time.Time, limit time.Duration) []time.Duration {
	t.Helper()
	at := make([]time.Duration, len(hosts))
	left := len(hosts)
	for left > 0 {
		for i, h := range hosts {
			if at[i] == 0 && h.m.ask(blocked) == want {
				at[i] = max(time.Since(start), time.Nanosecond)
				left--
			}
		}
		if left > 0 && time.Since(start) > limit {
			var late []string
			for i, h := range hosts {
				if at[i] == 0 {
					late = append(late, h.dir)
				}
			}
			t.Fatalf("%d hosts not answering %q %s after: %s", left, want, limit, strings.Join(late, " "))
		}
	}
	return at
}

func slowest(at []time.Duration) time.Duration { return slices.Max(at) }

// TestFleetSwitchesEveryHost: issue 14's test plan, in order. on and off
// reach every host; with Redis stopped every host keeps its state and
// answers, on fails and changes nothing, --local changes this host only;
// a map started meanwhile starts from its files; Redis back, every host
// converges within resync, --local overridden; a flushed Redis reopens
// nothing; the password is in no output.
func TestFleetSwitchesEveryHost(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{TLS: true})
	// The maps and commands trust the test CA as a system root (Go reads
	// SSL_CERT_FILE), as a host trusts its own CA.
	t.Setenv("SSL_CERT_FILE", r.CAFile)
	const resync = time.Second
	hosts := make([]*fleetHost, fleetHosts)
	for i := range hosts {
		hosts[i] = newFleetHost(t, r.URL, resync.String())
		hosts[i].m = startMap(t, hosts[i].site)
	}
	op := hosts[0]
	var outputs []string // everything the commands printed, for the password check

	// on: every host redirects; off: every host allows.
	code, out, errs := mgAll(t, op.config, "on", "--message", "fleet upgrade")
	start := time.Now()
	outputs = append(outputs, out, errs)
	if code != 0 {
		t.Fatalf("on: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("on: last of %d hosts switched %s after the command returned", len(hosts), slowest(switched(t, hosts, "redirect", start, 2*time.Second)))
	for _, h := range hosts {
		waitState(t, h.site, "on", time.Second)
	}
	mustMG(t, op, &outputs, 0, "off")
	start = time.Now()
	t.Logf("off: last host switched %s after", slowest(switched(t, hosts, "allow", start, 2*time.Second)))

	// Redis stopped: every host keeps answering, at full speed.
	r.Stop(t)
	time.Sleep(300 * time.Millisecond) // each map notices and logs the outage
	for _, h := range hosts {
		t0 := time.Now()
		for range 200 {
			if got := h.m.ask(blocked); got != "allow" {
				t.Fatalf("%s with Redis stopped: %q", h.dir, got)
			}
		}
		if d := time.Since(t0); d > time.Second {
			t.Errorf("%s: 200 answers took %s with Redis stopped", h.dir, d)
		}
	}
	// on fails, names the cause, and changes nothing here either.
	code, out, errs = mgAll(t, op.config, "on")
	outputs = append(outputs, out, errs)
	if code != 1 || !strings.Contains(errs, "nothing was changed on any host") || !strings.Contains(errs, "xxxxx") {
		t.Errorf("on with Redis stopped: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(op.flag); err == nil {
		t.Errorf("on with Redis stopped wrote the local flag")
	}
	// --local: this host only, and it says the fleet wins.
	local := hosts[1]
	code, out, errs = mgAll(t, local.config, "on", "--local")
	outputs = append(outputs, out, errs)
	if code != 0 || !strings.Contains(errs, "the fleet wins") {
		t.Errorf("on --local: exit %d\n%s%s", code, out, errs)
	}
	if got := local.m.ask(blocked); got != "redirect" {
		t.Errorf("on --local: this host answers %q", got)
	}
	if got := hosts[2].m.ask(blocked); got != "allow" {
		t.Errorf("on --local reached another host: %q", got)
	}
	// A host whose map starts now starts from its own files (on).
	late := newFleetHost(t, r.URL, resync.String())
	mustMG(t, late, &outputs, 0, "on", "--local")
	late.m = startMap(t, late.site)
	if got := late.m.ask(blocked); got != "redirect" {
		t.Errorf("a map started while Redis is down: %q, want its local state (redirect)", got)
	}

	// Redis back: every host converges within resync, --local and the
	// late host included: the fleet wins.
	r.Start(t)
	start = time.Now()
	all := append(hosts[:len(hosts):len(hosts)], late)
	conv := slowest(switched(t, all, "allow", start, resync+time.Second))
	t.Logf("Redis back: every host in step %s after", conv)

	// A flushed Redis while the fleet is in maintenance: nobody reopens.
	mustMG(t, op, &outputs, 0, "on", "--site", "shop")
	mustMG(t, op, &outputs, 0, "on")
	switched(t, all, "redirect", time.Now(), 2*time.Second)
	// Redis was empty when the maps started: each has logged it once.
	const lost = "holds none of maintgate's keys"
	lostBefore := make([]int, len(all))
	for i, h := range all {
		lostBefore[i] = strings.Count(h.logText(t), lost)
	}
	r.Flush(t)
	time.Sleep(2*resync + 500*time.Millisecond) // two resyncs of every map
	for i, h := range all {
		if got := h.m.ask(blocked); got != "redirect" {
			t.Errorf("%s reopened after FLUSHALL: %q", h.dir, got)
		}
		if _, err := os.Stat(filepath.Join(h.dir, "maintenance.shop")); err != nil {
			t.Errorf("%s: shop's flag removed after FLUSHALL: %v", h.dir, err)
		}
		if strings.Count(h.logText(t), lost) <= lostBefore[i] {
			t.Errorf("%s: no ERROR about the lost keys in its log", h.dir)
		}
	}
	checkStatus(t, op, &outputs)
	// The next off writes the keys again, and everyone follows; shop,
	// of which the flushed Redis says nothing, stays on everywhere
	// (found by review: KEY:written back made its absent key an off).
	mustMG(t, op, &outputs, 0, "off")
	switched(t, all, "allow", time.Now(), 2*time.Second)
	mustMG(t, op, &outputs, 0, "on")
	mustMG(t, op, &outputs, 0, "off")
	switched(t, all, "allow", time.Now(), 2*time.Second)
	time.Sleep(resync + 500*time.Millisecond) // a resync of every map
	for _, h := range all {
		if _, err := os.Stat(filepath.Join(h.dir, "maintenance.shop")); err != nil {
			t.Errorf("%s: shop reopened by an on/off of default after FLUSHALL: %v", h.dir, err)
		}
	}
	if code, out, errs := mgAll(t, op.config, "status"); code != 0 || !strings.Contains(out, "Redis holds no flag and no marker for shop") {
		t.Errorf("status with shop kept on:\n%s%s", out, errs)
	}
	// The fleet's own off of shop reopens it everywhere.
	mustMG(t, op, &outputs, 0, "off", "--site", "shop")
	deadline := time.Now().Add(2 * time.Second)
	for _, h := range all {
		for _, err := os.Stat(filepath.Join(h.dir, "maintenance.shop")); err == nil; _, err = os.Stat(filepath.Join(h.dir, "maintenance.shop")) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: shop still on 2 s after off --site shop", h.dir)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The password: in no log, link file, status or command output.
	for _, h := range all {
		if n := strings.Count(h.logText(t), "Redis unreachable"); n != 1 {
			t.Errorf("%s: the one outage was logged %d times:\n%s", h.dir, n, h.logText(t))
		}
		link, _ := os.ReadFile(h.state + ".fleet")
		outputs = append(outputs, h.logText(t), string(link), h.m.errb.String())
	}
	for i, o := range outputs {
		if strings.Contains(o, r.Password) {
			t.Errorf("output %d holds the Redis password:\n%s", i, o)
		}
	}
}

// mustMG runs a command on host h, keeps what it printed, and fails the
// test unless it exits with want.
func mustMG(t testing.TB, h *fleetHost, outputs *[]string, want int, args ...string) {
	t.Helper()
	code, out, errs := mgAll(t, h.config, args...)
	*outputs = append(*outputs, out, errs)
	if code != want {
		t.Fatalf("maintgate %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errs)
	}
}

// checkStatus: status shows the link; status --fleet what Redis holds
// (nothing, after the flush) beside this host's files.
func checkStatus(t testing.TB, h *fleetHost, outputs *[]string) {
	t.Helper()
	code, out, errs := mgAll(t, h.config, "status")
	*outputs = append(*outputs, out, errs)
	if code != 0 || !strings.Contains(out, "rediss://:xxxxx@127.0.0.1") || !strings.Contains(out, "link:    connected") ||
		!strings.Contains(out, "Redis holds none of maintgate's keys") {
		t.Errorf("status:\n%s%s", out, errs)
	}
	code, out, errs = mgAll(t, h.config, "status", "--fleet")
	*outputs = append(*outputs, out, errs)
	if code != 0 || !strings.Contains(out, "fleet site default: off") || !strings.Contains(out, "differs") {
		t.Errorf("status --fleet:\n%s%s", out, errs)
	}
	if st := flagfile.ReadState(h.state); st != flagfile.On {
		t.Errorf("state map after the flush: %q", st)
	}
}
