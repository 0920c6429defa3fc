package tests

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// TestDeb (issue 13) installs the package the way an operator does, on
// this machine's own Apache, and takes it away again:
//
//   - make deb builds it; lintian finds nothing the commit does not explain;
//   - apt-get installs it; the postinst prints the two Include lines, which
//     go into a vhost in front of a Django site under Debian's gunicorn;
//   - the system Apache starts the Debian way (service apache2 start) and
//     the original document's Tests 1–4 pass with curl, the map running as
//     maintgate, not root;
//   - maintgate on/off work as a user who is only in group maintgate;
//   - the vhost is removed, the package purged: nothing it made is left,
//     and Apache still starts.
//
// It changes the machine (a package, a system user, Apache's enabled
// modules and sites, a running Apache), so it runs only as root, one at a
// time (a lock file), and restore puts everything back whatever the
// outcome. It needs root: outside CI it skips without it, under CI=true it
// fails.
func TestDeb(t *testing.T) {
	m := newDebMachine(t)
	deb := m.build(t)
	m.lintian(t, deb)

	out := m.install(t, deb)
	includes := includeLines(out)
	if len(includes) != 2 {
		t.Fatalf("the postinst printed %d Include lines, want 2:\n%s", len(includes), out)
	}
	// Without systemd (a container) it says how to reload without it.
	reload := "apachectl graceful"
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		reload = "systemctl reload apache2"
	}
	if !strings.Contains(out, reload) {
		t.Errorf("the postinst does not say %q:\n%s", reload, out)
	}
	app := startDebApp(t)
	m.configure(t, app)
	m.addVhost(t, includes, app)
	m.startApache(t)

	// Maintenance off: the application answers.
	m.want(t, "off, /de/map/", m.curl(t, "/de/map/"), 200, "debapp: the application answered /de/map/")

	// Test 1: on -> 302 to the page; the admin's login page is reachable.
	m.mg(t, "", "on", "--message", "Database upgrade")
	r := m.curl(t, "/de/map/")
	m.want(t, "Test 1: on, /de/map/", r, 302, "")
	if !strings.HasSuffix(r.location, "/maintenance.html") {
		t.Errorf("Test 1: on, /de/map/ redirects to %q, want …/maintenance.html", r.location)
	}
	m.want(t, "Test 1: on, /maintenance.html", m.curl(t, "/maintenance.html"), 200, "Database upgrade")
	m.want(t, "Test 1: on, /admin/login/", m.curl(t, "/admin/login/"), 200, "Log in")
	// Test 2: a whitelisted address passes.
	m.want(t, "Test 2: on, whitelisted 127.0.0.2", m.curl(t, "/de/map/", "--interface", "127.0.0.2"), 200, "debapp:")
	// Test 3: a superuser's session passes.
	m.want(t, "Test 3: on, superuser session", m.curl(t, "/de/map/", "-H", "Cookie: sessionid="+app.session), 200, "debapp:")
	m.checkMapUser(t)
	// An upgrade (the same files, a newer version) keeps the edited config
	// and the key, reloads Apache, and the gate keeps working.
	m.upgrade(t, deb)
	m.want(t, "after the upgrade, on, /de/map/", m.curl(t, "/de/map/"), 302, "")
	m.want(t, "after the upgrade, superuser session", m.curl(t, "/de/map/", "-H", "Cookie: sessionid="+app.session), 200, "debapp:")
	m.mg(t, "", "off")
	m.want(t, "off again, /de/map/", m.curl(t, "/de/map/"), 200, "debapp:")

	// Test 4: gunicorn down -> the page from ErrorDocument; up -> 200.
	app.stop()
	page, err := os.ReadFile("/var/www/maintgate/maintenance.html")
	apMust(t, err)
	r = m.curl(t, "/")
	if r.code != 503 || r.body != string(page) {
		t.Errorf("Test 4: gunicorn stopped, /: %d, body %q…; want 503 with /var/www/maintgate/maintenance.html", r.code, apTail(r.body, 120))
	}
	app.start(t)
	m.want(t, "Test 4: gunicorn started again, /", m.curl(t, "/"), 200, "debapp:")

	// An operator in group maintgate, not root, switches.
	m.mg(t, "nobody", "on")
	m.want(t, "on as nobody in group maintgate", m.curl(t, "/de/map/"), 302, "")
	m.mg(t, "nobody", "off")
	m.want(t, "off as nobody in group maintgate", m.curl(t, "/de/map/"), 200, "debapp:")

	// Purge: the vhost goes first (as an operator would do), then the
	// package and everything it made.
	m.removeVhost(t)
	m.purge(t)
	m.checkPurged(t)
	m.restartApache(t)
}

// debMachine is this machine, as TestDeb changes it: what it saw before,
// so that restore can put it back.
type debMachine struct {
	dir          string   // temporary: the .deb, the app, the lock
	files        []string // what the .deb holds, absolute paths of files
	apacheBefore bool     // the system Apache ran before the test
	started      bool     // the test started it
	port         int      // the test vhost's port (not 80)
	enabled      map[string]string
	dirs         map[string]bool // apacheStateDirs (and parents) that existed
}

// debVhost names the test's site, in sites-available and a2ensite.
const debVhost = "maintgate-debtest"

func newDebMachine(t *testing.T) *debMachine {
	t.Helper()
	if os.Geteuid() != 0 {
		testsvc.Missing(t, "TestDeb installs the .deb on this machine and starts its Apache: it needs root (make test asks for it)")
	}
	for _, tool := range []struct{ path, pkg string }{
		{"/usr/bin/dpkg-deb", "dpkg"}, {"/usr/bin/apt-get", "apt"}, {"/usr/sbin/apache2ctl", "apache2"},
		{"/usr/sbin/a2ensite", "apache2"}, {"/usr/bin/gunicorn", "gunicorn"}, {"/usr/bin/curl", "curl"},
		{"/usr/bin/lintian", "lintian"}, {"/usr/sbin/runuser", "util-linux"}, {"/usr/sbin/service", "init-system-helpers"},
	} {
		if _, err := os.Stat(tool.path); err != nil {
			testsvc.Missing(t, tool.path+" (Debian package "+tool.pkg+"); scripts/deps.sh installs it")
		}
	}
	testsvc.RequireDjango(t, "sqlite:")
	requireTool(t, "make", "make")
	requireTool(t, "go", "Go")

	m := &debMachine{dir: debTempDir(t, ""), enabled: map[string]string{}, dirs: map[string]bool{}}
	m.lock(t)
	if st := debStatus(); st != "" {
		testsvc.Missing(t, "the package maintgate is already on this machine ("+st+"); TestDeb would purge it")
	}
	m.apacheBefore = apachePID() > 0
	m.port = testsvc.FreePort(t)
	m.snapshot(t)
	t.Cleanup(func() { m.restore(t) })
	return m
}

// debTempDir is a directory under base ("" is $TMPDIR) the maintgate
// user can read (t.TempDir's parent is 0700 root).
func debTempDir(t *testing.T, base string) string {
	t.Helper()
	dir, err := os.MkdirTemp(base, "maintgate-debtest")
	apMust(t, err)
	apMust(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// lock makes concurrent runs of TestDeb (two engineers, two checkouts)
// wait for each other: there is one dpkg and one system Apache.
func (m *debMachine) lock(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/run/lock/maintgate-debtest.lock", os.O_RDWR|os.O_CREATE, 0o600)
	apMust(t, err)
	start := time.Now()
	apMust(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	if d := time.Since(start); d > time.Second {
		t.Logf("waited %v for another TestDeb", d.Round(time.Second))
	}
	t.Cleanup(func() { f.Close() })
}

// debStatus is dpkg's status of maintgate, "" when it is not on the
// machine at all (never installed, or purged).
func debStatus() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "maintgate").Output()
	st := strings.TrimSpace(string(out))
	if err != nil || st == "" || strings.HasSuffix(st, "not-installed") {
		return ""
	}
	return st
}

// apacheStateDirs are what a2enmod, a2enconf and a2ensite change: the
// enabled links and the helper's records of who enabled what.
func apacheStateDirs() []string {
	dirs := []string{"/etc/apache2/mods-enabled", "/etc/apache2/conf-enabled", "/etc/apache2/sites-enabled"}
	for _, kind := range []string{"module", "conf", "site"} {
		for _, s := range []string{"enabled_by_maint", "disabled_by_maint", "enabled_by_admin", "disabled_by_admin"} {
			dirs = append(dirs, filepath.Join("/var/lib/apache2", kind, s))
		}
	}
	return dirs
}

// snapshot records every entry of apacheStateDirs: a link's target, or
// "" for a plain (empty marker) file.
func (m *debMachine) snapshot(t *testing.T) {
	t.Helper()
	for _, dir := range apacheStateDirs() {
		for d := dir; d != "/var/lib/apache2" && d != "/etc/apache2"; d = filepath.Dir(d) {
			_, err := os.Stat(d)
			m.dirs[d] = err == nil
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			target, _ := os.Readlink(p)
			m.enabled[p] = target
		}
	}
}

// restore undoes what the test did, in the order an operator would, and
// logs (not fails on) what it could not undo, so that every step runs.
func (m *debMachine) restore(t *testing.T) {
	step := func(what string, err error) {
		if err != nil {
			t.Errorf("restore: %s: %v", what, err)
		}
	}
	m.removeVhostFiles()
	if debStatus() != "" {
		step("purge maintgate", run("apt-get", "purge", "-y", "-q", "maintgate"))
	}
	for _, dir := range apacheStateDirs() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if _, ok := m.enabled[p]; !ok {
				step("remove "+p, os.Remove(p))
			}
		}
	}
	for p, target := range m.enabled {
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if target != "" {
			step("link "+p, os.Symlink(target, p))
		} else {
			step("create "+p, os.WriteFile(p, nil, 0o644))
		}
	}
	// The directories a2enmod and a2ensite made for their records, deepest
	// first (os.Remove leaves a directory that is not empty).
	for _, dir := range apacheStateDirs() {
		for d := dir; d != "/var/lib/apache2" && d != "/etc/apache2"; d = filepath.Dir(d) {
			if !m.dirs[d] {
				os.Remove(d)
			}
		}
	}
	switch {
	case m.started:
		step("stop Apache", run("service", "apache2", "stop"))
	case m.apacheBefore:
		step("reload Apache", run("apache2ctl", "graceful"))
	}
}

func (m *debMachine) removeVhostFiles() {
	os.Remove("/etc/apache2/sites-enabled/" + debVhost + ".conf")
	os.Remove("/etc/apache2/sites-available/" + debVhost + ".conf")
}

// run runs a command, its output in the error.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// build runs make deb and measures the package.
func (m *debMachine) build(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("make", "-s", "deb", "DIST="+m.dir)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(m.dir, "maintgate_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v, want one dist/maintgate_VERSION_ARCH.deb\n%s", debs, out)
	}
	st, err := os.Stat(debs[0])
	apMust(t, err)
	t.Logf("%s: %.1f MB", filepath.Base(debs[0]), float64(st.Size())/1e6)
	names, err := exec.Command("sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -t", "sh", debs[0]).Output()
	apMust(t, err)
	for _, n := range strings.Split(strings.TrimSpace(string(names)), "\n") {
		if !strings.HasSuffix(n, "/") {
			m.files = append(m.files, strings.TrimPrefix(n, "."))
		}
	}
	return debs[0]
}

// lintian: no error or warning; the overrides in the package say why
// for the two tags it keeps (packaging/debian/lintian-overrides).
func (m *debMachine) lintian(t *testing.T, deb string) {
	t.Helper()
	out, _ := exec.Command("lintian", deb).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E:") || strings.HasPrefix(line, "W:") {
			t.Errorf("lintian: %s", line)
		}
	}
}

func (m *debMachine) install(t *testing.T, deb string) string {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("apt-get", "install", "-y", "-q", deb)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get install %s: %v\n%s", deb, err, out)
	}
	t.Logf("apt-get install: %v", time.Since(start).Round(10*time.Millisecond))
	return string(out)
}

// includeLines are the lines the postinst told the operator to add.
func includeLines(out string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "Include /etc/apache2/maintgate/") {
			lines = append(lines, l)
		}
	}
	return lines
}

// debApp is the Django site behind the test vhost, under Debian's
// gunicorn, with a superuser logged in.
type debApp struct {
	dir     string // its database (readable by maintgate)
	port    int
	env     []string
	session string // the superuser's sessionid
	secret  string // its SECRET_KEY
	cmd     *exec.Cmd
}

func startDebApp(t *testing.T) *debApp {
	t.Helper()
	// Not under /tmp: Debian's apache2.service has PrivateTmp=true, and the
	// map, Apache's child, would not see the database there.
	a := &debApp{dir: debTempDir(t, "/srv"), port: testsvc.FreePort(t)}
	secret := fmt.Sprintf("debtest-%d-%d", time.Now().UnixNano(), os.Getpid())
	a.env = append(os.Environ(), "DEBAPP_SECRET="+secret, "DEBAPP_DB="+filepath.Join(a.dir, "db.sqlite3"),
		"PYTHONDONTWRITEBYTECODE=1", "DJANGO_SETTINGS_MODULE=debapp.settings")
	cmd := exec.Command(testsvc.DjangoPython(), filepath.Join(repoRoot, "tests/testdata/deb/mkadmin.py"))
	cmd.Env = a.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mkadmin.py: %v\n%s", err, debStderr(err))
	}
	a.session = strings.TrimSpace(string(out))
	a.secret = secret
	apMust(t, os.Chmod(filepath.Join(a.dir, "db.sqlite3"), 0o644))
	a.start(t)
	t.Cleanup(a.stop)
	return a
}

func debStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func (a *debApp) start(t *testing.T) {
	t.Helper()
	a.cmd = exec.Command("/usr/bin/gunicorn", "--bind", fmt.Sprintf("127.0.0.1:%d", a.port), "--workers", "2",
		"--chdir", filepath.Join(repoRoot, "tests/testdata/deb"), "--error-logfile", filepath.Join(a.dir, "gunicorn.log"),
		"debapp.wsgi")
	a.cmd.Env = a.env
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	apMust(t, a.cmd.Start())
	for i := 0; i < 200; i++ {
		if c, err := netDial(a.port); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(a.dir, "gunicorn.log"))
	t.Fatalf("gunicorn does not listen on 127.0.0.1:%d:\n%s", a.port, log)
}

func (a *debApp) stop() {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-done
	}
	a.cmd = nil
}

// configure edits the installed maintgate.toml as the README tells an
// operator to: a whitelisted address and the Django sessions.
func (m *debMachine) configure(t *testing.T, app *debApp) {
	t.Helper()
	const path = "/etc/maintgate/maintgate.toml"
	b, err := os.ReadFile(path)
	apMust(t, err)
	text := string(b)
	apMust(t, os.WriteFile(path, []byte(apTomlSet(t, text, "whitelist", `["127.0.0.2"]`)), 0o644))
	// The Django quick start: the settings module tells maintgate the
	// database and SECRET_KEY; setup writes them and runs config check.
	cmd := exec.Command("/usr/bin/maintgate", "setup", "django", "--settings-module", "debapp.settings",
		"--pythonpath", filepath.Join(repoRoot, "tests/testdata/deb"))
	cmd.Env = app.env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "# configuration OK") {
		t.Fatalf("maintgate setup django: %v\n%s", err, out)
	}
	st, err := os.Stat("/etc/maintgate/django.secret")
	apMust(t, err)
	if g, err := user.LookupGroup("maintgate"); err != nil || st.Mode().Perm() != 0o640 || strconv.Itoa(fileGroup(st)) != g.Gid {
		t.Errorf("/etc/maintgate/django.secret: mode %v group %d, want 0640 group maintgate", st.Mode().Perm(), fileGroup(st))
	}
}

func fileGroup(st os.FileInfo) int {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Gid)
	}
	return -1
}

// addVhost writes the site an operator writes: the printed Include lines
// in front of the application, on a loopback port of its own.
func (m *debMachine) addVhost(t *testing.T, includes []string, app *debApp) {
	t.Helper()
	conf := fmt.Sprintf(`# TestDeb (tests/deb_test.go); removed when the test ends.
Listen 127.0.0.1:%d
<VirtualHost 127.0.0.1:%d>
    ServerName debtest.localhost
    %s
    ProxyPass        / http://127.0.0.1:%d/
    ProxyPassReverse / http://127.0.0.1:%d/
</VirtualHost>
`, m.port, m.port, strings.Join(includes, "\n    "), app.port, app.port)
	apWriteFile(t, "/etc/apache2/sites-available/"+debVhost+".conf", conf)
	apMust(t, run("a2enmod", "-q", "proxy_http"))
	apMust(t, run("a2ensite", "-q", debVhost))
	apMust(t, run("apache2ctl", "configtest"))
}

func (m *debMachine) removeVhost(t *testing.T) {
	t.Helper()
	apMust(t, run("a2dissite", "-q", debVhost))
	m.removeVhostFiles()
	apMust(t, run("apache2ctl", "graceful"))
}

// startApache starts the system Apache the Debian way (or reloads the
// one that ran before the test) and waits for the test vhost.
func (m *debMachine) startApache(t *testing.T) {
	t.Helper()
	if m.apacheBefore {
		apMust(t, run("apache2ctl", "graceful"))
	} else {
		m.started = true
		apMust(t, run("service", "apache2", "start"))
	}
	for i := 0; i < 100; i++ {
		if c, err := netDial(m.port); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("Apache does not listen on 127.0.0.1:%d\n%s", m.port, debErrorLog())
}

func debErrorLog() string {
	b, _ := os.ReadFile("/var/log/apache2/error.log")
	return apTail(string(b), 2000)
}

// apachePID is the system Apache's pid, 0 when it does not run.
func apachePID() int {
	b, err := os.ReadFile("/run/apache2/apache2.pid")
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

type debReply struct {
	code     int
	location string
	body     string
}

// curl asks the test vhost for path, as the original document's tests do.
func (m *debMachine) curl(t *testing.T, path string, args ...string) debReply {
	t.Helper()
	body := filepath.Join(m.dir, "body")
	a := append([]string{"-sS", "--max-time", "10", "-o", body, "-w", "%{http_code} %{redirect_url}"}, args...)
	out, err := exec.Command("curl", append(a, fmt.Sprintf("http://127.0.0.1:%d%s", m.port, path))...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", path, err, debStderr(err))
	}
	code, loc, _ := strings.Cut(string(out), " ")
	r := debReply{location: loc}
	r.code, _ = strconv.Atoi(code)
	b, _ := os.ReadFile(body)
	r.body = string(b)
	return r
}

func (m *debMachine) want(t *testing.T, what string, r debReply, code int, contains string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.body, contains) {
		t.Errorf("%s: %d %s, body %q; want %d with %q\n%s", what, r.code, r.location, apTail(r.body, 200), code, contains, debErrorLog())
	}
}

// mg runs the installed maintgate as root (as "") or as the user as,
// with group maintgate as the only group that lets them.
func (m *debMachine) mg(t *testing.T, as string, args ...string) {
	t.Helper()
	cmd := exec.Command("/usr/bin/maintgate", args...)
	if as != "" {
		cmd = exec.Command("runuser", append([]string{"-u", as, "-G", "maintgate", "--", "/usr/bin/maintgate"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "warning") {
		t.Errorf("maintgate %s (as %q): %v\n%s", strings.Join(args, " "), as, err, out)
	}
}

// checkMapUser: the map Apache started runs as maintgate, not root.
func (m *debMachine) checkMapUser(t *testing.T) {
	t.Helper()
	u, err := user.Lookup("maintgate")
	apMust(t, err)
	found := 0
	for _, pid := range debMapPIDs() {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		found++
		if uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).FindSubmatch(status); uid == nil || string(uid[1]) != u.Uid {
			t.Errorf("maintgate map (pid %d) runs as uid %s, want maintgate (%s)", pid, uid[1], u.Uid)
		}
	}
	if found == 0 {
		t.Errorf("no /usr/bin/maintgate map process under the system Apache\n%s", debErrorLog())
	}
}

func debMapPIDs() []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err == nil && strings.HasPrefix(string(b), "/usr/bin/maintgate\x00map\x00") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
			pids = append(pids, pid)
		}
	}
	return pids
}

func (m *debMachine) purge(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := run("apt-get", "purge", "-y", "-q", "maintgate"); err != nil {
		t.Fatal(err)
	}
	t.Logf("apt-get purge: %v", time.Since(start).Round(10*time.Millisecond))
}

// checkPurged: nothing the package or its postinst made is left.
func (m *debMachine) checkPurged(t *testing.T) {
	t.Helper()
	if st := debStatus(); st != "" {
		t.Errorf("after purge dpkg says maintgate is %q", st)
	}
	made := append([]string{"/etc/maintgate", "/var/lib/maintgate", "/var/log/maintgate", "/var/www/maintgate",
		"/etc/apache2/maintgate", "/etc/apache2/conf-enabled/maintgate.conf"}, m.files...)
	for _, p := range made {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("after purge %s is still there", p)
		}
	}
	if _, err := user.Lookup("maintgate"); err == nil {
		t.Errorf("after purge the user maintgate is still there")
	}
	if _, err := user.LookupGroup("maintgate"); err == nil {
		t.Errorf("after purge the group maintgate is still there")
	}
}

// restartApache: Apache starts without the package, and no map is left.
func (m *debMachine) restartApache(t *testing.T) {
	t.Helper()
	apMust(t, run("service", "apache2", "stop"))
	apMust(t, run("service", "apache2", "start"))
	m.started = m.started || !m.apacheBefore
	if apachePID() == 0 {
		t.Errorf("Apache does not start after the purge\n%s", debErrorLog())
	}
	if pids := debMapPIDs(); len(pids) > 0 {
		t.Errorf("maintgate map still runs after the purge: %v", pids)
	}
}

func netDial(port int) (net.Conn, error) {
	return net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
}

// TestSetupDjango: `maintgate setup django` reads a real Django project's
// settings (Debian's python3 and Django), writes the secret file and
// [session] into the example config, keeps its comments, and the
// superuser's session then passes; run twice, it changes nothing more.
func TestSetupDjango(t *testing.T) {
	testsvc.RequireDjango(t, "sqlite:")
	dir := t.TempDir()
	secret := "setup-test-#key-" + strconv.Itoa(os.Getpid())
	t.Setenv("DEBAPP_SECRET", secret)
	t.Setenv("DEBAPP_DB", filepath.Join(dir, "db.sqlite3"))
	t.Setenv("PYTHONDONTWRITEBYTECODE", "1")
	out, err := exec.Command(testsvc.DjangoPython(), filepath.Join(repoRoot, "tests/testdata/deb/mkadmin.py")).Output()
	if err != nil {
		t.Fatalf("mkadmin.py: %v\n%s", err, debStderr(err))
	}
	cookie := "sessionid=" + strings.TrimSpace(string(out))

	example, err := os.ReadFile(filepath.Join(repoRoot, "apache-conf/maintgate.toml"))
	apMust(t, err)
	text := string(example)
	for _, kv := range [][2]string{{"flag_file", "maintenance"}, {"state_map", "state.map"}, {"page_template", ""}, {"page_file", ""}} {
		text = apTomlSet(t, text, kv[0], strconv.Quote(kv[1]))
	}
	cfg := filepath.Join(dir, "maintgate.toml")
	apWriteFile(t, cfg, text)
	setup := []string{"setup", "django", "--settings-module", "debapp.settings", "--pythonpath", filepath.Join(repoRoot, "tests/testdata/deb")}

	if got := mg(t, cfg, 0, setup...); !strings.Contains(got, "# configuration OK") {
		t.Errorf("setup django: config check did not pass:\n%s", got)
	}
	secretFile := filepath.Join(dir, "django.secret")
	b, err := os.ReadFile(secretFile)
	apMust(t, err)
	st, err := os.Stat(secretFile)
	apMust(t, err)
	if string(b) != secret+"\n" || st.Mode().Perm() != 0o640 {
		t.Errorf("django.secret: %q mode %v, want SECRET_KEY and a newline, mode 0640", b, st.Mode().Perm())
	}
	written, err := os.ReadFile(cfg)
	apMust(t, err)
	for _, want := range []string{"# maintgate configuration: /etc/maintgate/maintgate.toml\n", "\nallow_admin_during_maintenance = true\n",
		"\nstore = \"django\"\n", "\ndatabase = \"sqlite:" + filepath.Join(dir, "db.sqlite3") + "\"\n", "\nsecret_key_file = \"" + secretFile + "\"\n"} {
		if !strings.Contains(string(written), want) {
			t.Errorf("the config after setup lacks %q:\n%s", want, written)
		}
	}

	apWriteFile(t, filepath.Join(dir, "maintenance"), "")
	if got := mg(t, cfg, 0, "check", "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", cookie); !strings.Contains(got, "active superuser") {
		t.Errorf("check with the superuser's session: %s, want allow: … active superuser", got)
	}
	mg(t, cfg, 1, "check", "--ip", "203.0.113.7", "--path", "/de/map/", "--cookie", "sessionid=nobodysessionkey0123456789abcdef")

	mg(t, cfg, 0, setup...)
	again, err := os.ReadFile(cfg)
	apMust(t, err)
	if string(again) != string(written) {
		t.Errorf("setup django run twice changed the config again:\n%s", again)
	}
	// A module that does not load: an error naming it, the config untouched.
	mg(t, cfg, 1, "setup", "django", "--settings-module", "nosuch.settings", "--pythonpath", dir)
	if after, _ := os.ReadFile(cfg); string(after) != string(written) {
		t.Errorf("a failed setup changed the config")
	}
}

// upgrade installs deb again as a newer version and checks that the
// edited conffile and the token key survive it.
func (m *debMachine) upgrade(t *testing.T, deb string) {
	t.Helper()
	conf, err := os.ReadFile("/etc/maintgate/maintgate.toml")
	apMust(t, err)
	key, err := os.ReadFile("/etc/maintgate/token.key")
	apMust(t, err)
	tree := filepath.Join(m.dir, "upgrade")
	apMust(t, run("dpkg-deb", "-R", deb, tree))
	control := filepath.Join(tree, "DEBIAN/control")
	b, err := os.ReadFile(control)
	apMust(t, err)
	b = regexp.MustCompile(`(?m)^Version: (.*)$`).ReplaceAll(b, []byte("Version: ${1}+upgrade1"))
	apMust(t, os.WriteFile(control, b, 0o644))
	newer := filepath.Join(m.dir, "maintgate_upgrade.deb")
	apMust(t, run("dpkg-deb", "--root-owner-group", "--build", tree, newer))
	start := time.Now()
	cmd := exec.Command("apt-get", "install", "-y", "-q", newer)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install (upgrade): %v\n%s", err, out)
	}
	t.Logf("apt-get install (upgrade): %v", time.Since(start).Round(10*time.Millisecond))
	if after, _ := os.ReadFile("/etc/maintgate/maintgate.toml"); string(after) != string(conf) {
		t.Errorf("the upgrade changed the edited /etc/maintgate/maintgate.toml")
	}
	if after, _ := os.ReadFile("/etc/maintgate/token.key"); string(after) != string(key) {
		t.Errorf("the upgrade replaced /etc/maintgate/token.key")
	}
	// Reloaded by the postinst when the system allows it (a container's
	// policy-rc.d may not): the test reloads it either way.
	apMust(t, run("apache2ctl", "graceful"))
}
