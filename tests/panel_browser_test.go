package tests

// The control panel in a real browser: headless Chromium (Debian's
// /usr/bin/chromium, driven over the DevTools protocol by chromedp, with
// no browser download) against `maintgate panel` behind a real Apache
// (the shipped maintgate-panel.conf) and a real Django superuser session.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// panelEnv is Apache, the map and the panel behind it.
type panelEnv struct {
	*apacheEnv
	panelURL string // the panel through Apache: BASE/maintgate/
	dj       *apDjango
	cmd      *exec.Cmd
}

// startPanelEnv starts Apache with /maintgate/ proxied to a panel on a
// free port, the panel signing in Django superusers, a whitelist file
// and an audit log in the environment's directory.
func startPanelEnv(t *testing.T) *panelEnv {
	t.Helper()
	dj := newApDjango(t)
	port := testsvc.FreePort(t)
	toml := dj.toml(map[string]string{
		// Relative to maintgate.toml's directory.
		"whitelist_file": `"whitelist.txt"`,
		"stats_file":     `"state/stats.prom"`,
	})
	o := apacheOpts{
		toml:     toml,
		tomlTail: "[panel]\nauth = [\"django\"]\naudit_log = \"@DIR@/audit.log\"\n",
		files:    map[string]string{"whitelist.txt": "# the office\n192.0.2.10\n"},
		server:   []string{"Define MG_PANEL", fmt.Sprintf("Define MAINTGATE_PANEL_URL http://127.0.0.1:%d/", port)},
	}
	a := startApache(t, o)
	e := &panelEnv{apacheEnv: a, dj: dj, panelURL: a.base + "/maintgate/"}
	e.cmd = exec.Command(maintgate, "panel", "-listen", "127.0.0.1:"+strconv.Itoa(port))
	e.cmd.Env = append(os.Environ(), "MAINTGATE_CONFIG="+a.cfg)
	log, err := os.Create(filepath.Join(a.dir, "panel.log"))
	apMust(t, err)
	e.cmd.Stdout, e.cmd.Stderr = log, log
	apMust(t, e.cmd.Start())
	t.Cleanup(func() {
		e.cmd.Process.Signal(os.Interrupt)
		e.cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(a.dir, "panel.log"))
			t.Logf("panel log:\n%s", apTail(string(b), 3000))
		}
	})
	apEventually(t, 10*time.Second, func() string {
		r, err := a.do(apDefaultClient, "GET", "/maintgate/assets/panel.css")
		if err != nil || r.status != http.StatusOK {
			return fmt.Sprintf("the panel does not answer through Apache: %v %v", r, err)
		}
		return ""
	})
	return e
}

// browser starts headless Chromium; dialogs (the on/off confirmations)
// are accepted and their text kept.
func browser(t *testing.T) (context.Context, *[]string) {
	t.Helper()
	bin := ""
	for _, b := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(b); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		requireTool(t, "chromium", "Chromium for the panel's browser test (Debian package chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 2900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	var mu sync.Mutex
	dialogs := []string{}
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			dialogs = append(dialogs, ev.Message)
			mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx, &dialogs
}

// step runs browser actions with a time limit.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage:\n%s", what, err, apTail(html, 3000))
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// shot saves a screenshot of the page, as tall as its content (the
// window is taller than any page, so that the preview frame is painted:
// Chromium leaves frames outside the viewport blank in a full-page
// capture); MAINTGATE_SCREENSHOT_DIR keeps it.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("MAINTGATE_SCREENSHOT_DIR"); dir != "" {
		apMust(t, os.MkdirAll(dir, 0o755))
		apMust(t, os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644))
	}
}

// TestPanelInBrowser: sign in with a Django superuser session, turn
// maintenance on with a message and an end time (the site answers 302,
// the page shows the message), add an invalid then a valid whitelist
// line, issue a bypass link and use it, turn maintenance off. One long
// function on purpose: each step starts from what the one before left,
// as an operator's session does.
func TestPanelInBrowser(t *testing.T) {
	e := startPanelEnv(t)
	ctx, dialogs := browser(t)
	const message = "We are moving the shop to a new server."

	// Without a session the page says how to sign in.
	step(t, ctx, "the panel without a session", chromedp.Navigate(e.panelURL), chromedp.WaitVisible(chromedp.ID("login")))
	if href, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("login"), "href")); !strings.HasSuffix(href.Value, "/admin/login/?next=%2Fmaintgate%2F") {
		t.Errorf("sign-in link %q", href.Value)
	}
	shot(t, ctx, "panel-signin")

	// Signed in: the Django admin's login sets this cookie.
	u, _ := url.Parse(e.base)
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "sessionid",
		Value: e.dj.cookie(t, "superuser"), Domain: u.Hostname(), Path: "/", HTTPOnly: ptrTo(true)})
	apMust(t, err)
	step(t, ctx, "signed in", chromedp.Navigate(e.panelURL), chromedp.WaitVisible(chromedp.ID("sites")))
	if who := text(t, ctx, "header .who"); !strings.Contains(who, "admin") || strings.Contains(who, "django user") {
		t.Errorf("header %q", who)
	}
	shot(t, ctx, "panel-status")

	// On, with a message and an end time, through the confirmation dialog.
	step(t, ctx, "turn on",
		chromedp.SetValue(chromedp.ID("on-message"), message),
		chromedp.SetValue(chromedp.ID("on-until"), "45m"),
		chromedp.Click(chromedp.ID("on-submit")),
		chromedp.WaitVisible(chromedp.ID("flash")))
	if len(*dialogs) != 1 || !strings.Contains((*dialogs)[0], "Turn maintenance on") {
		t.Errorf("confirmation dialogs %q", *dialogs)
	}
	if st := text(t, ctx, `tr[data-site="default"]`); !strings.Contains(st, "on") || !strings.Contains(st, message) {
		t.Errorf("default row after on: %q", st)
	}
	e.wantRedirect(t, e.get(t, "/de/map/"), "a visitor after on from the panel")
	if r := e.get(t, "/maintenance.html"); !strings.Contains(r.body, message) {
		t.Errorf("the maintenance page lacks the message: %v", r)
	}
	shot(t, ctx, "panel-on")
	// The maintenance page as the panel shows it (its preview frame).
	step(t, ctx, "preview", chromedp.Navigate(e.panelURL+"preview?site=default"), chromedp.WaitVisible(chromedp.CSS("body")))
	if body := text(t, ctx, "body"); !strings.Contains(body, message) {
		t.Errorf("the panel's preview of the page lacks the message:\n%s", body)
	}

	// The whitelist: a bad line is refused by line, the file unchanged.
	wl := filepath.Join(e.dir, "whitelist.txt")
	before, _ := os.ReadFile(wl)
	step(t, ctx, "bad whitelist", chromedp.Navigate(e.panelURL),
		chromedp.SetValue(chromedp.ID("whitelist-text"), "192.0.2.10\n127.0.0/24\n"),
		chromedp.Submit(chromedp.ID("whitelist-form")),
		chromedp.WaitVisible(chromedp.ID("whitelist-errors")))
	if errs := text(t, ctx, "#whitelist-errors"); !strings.Contains(errs, "line 2:") || !strings.Contains(errs, "127.0.0/24") {
		t.Errorf("whitelist errors %q", errs)
	}
	if after, _ := os.ReadFile(wl); string(after) != string(before) {
		t.Errorf("a refused whitelist changed the file: %q", after)
	}
	shot(t, ctx, "panel-whitelist-error")
	step(t, ctx, "good whitelist",
		chromedp.SetValue(chromedp.ID("whitelist-text"), "192.0.2.10\n127.0.0.3\n"),
		chromedp.Submit(chromedp.ID("whitelist-form")),
		chromedp.WaitVisible(chromedp.ID("flash")))
	apEventually(t, 3*time.Second, func() string {
		if r := e.getFrom(t, apClient("127.0.0.3"), "/de/map/"); r.status != http.StatusOK {
			return fmt.Sprintf("127.0.0.3 after the panel whitelisted it: %v", r)
		}
		return ""
	})

	// A whitelist posted as curl -F sends it (multipart) is refused, the
	// file kept, never saved empty.
	before, _ = os.ReadFile(wl)
	req, _ := http.NewRequest("POST", e.panelURL+"whitelist", strings.NewReader("--XX\r\nContent-Disposition: form-data; name=\"text\"; filename=\"wl.txt\"\r\n\r\n10.0.0.1\n\r\n--XX--\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
	req.Header.Set("Cookie", "sessionid="+e.dj.cookie(t, "superuser"))
	resp, err := apDefaultClient.Do(req)
	apMust(t, err)
	resp.Body.Close()
	if after, _ := os.ReadFile(wl); resp.StatusCode != http.StatusUnsupportedMediaType || string(after) != string(before) {
		t.Errorf("multipart whitelist through Apache: %d, file now %q", resp.StatusCode, after)
	}

	// A bypass link, used by a browser that has nothing else. The
	// browser also sends an X-Forwarded-Host of its own choosing (Apache
	// appends the real one after it): the link keeps the host the
	// browser reached.
	_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Forwarded-Host": "evil.example"}})
	apMust(t, err)
	step(t, ctx, "bypass link", chromedp.Navigate(e.panelURL),
		chromedp.SetValue(chromedp.ID("token-label"), "partner-qa"),
		chromedp.Submit(chromedp.ID("token-form")),
		chromedp.WaitVisible(chromedp.ID("token-url")),
		chromedp.Click(chromedp.ID("copy")))
	link, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("token-url")))
	apMust(t, err)
	if !strings.HasPrefix(link, e.base+"/maintgate-bypass?token=v1.") {
		t.Fatalf("bypass link %q", link)
	}
	_, err = chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{}})
	apMust(t, err)
	shot(t, ctx, "panel-token")
	useBypassLink(t, e, link)

	// Why would a request be redirected?
	step(t, ctx, "check", chromedp.Navigate(e.panelURL),
		chromedp.SetValue(chromedp.CSS(`#check-form input[name="ip"]`), "198.51.100.7"),
		chromedp.SetValue(chromedp.CSS(`#check-form input[name="path"]`), "/de/map/"),
		chromedp.Submit(chromedp.ID("check-form")),
		chromedp.WaitVisible(chromedp.ID("check-result")))
	if res := text(t, ctx, "#check-result"); !strings.HasPrefix(res, "redirect") {
		t.Errorf("check result %q", res)
	}
	shot(t, ctx, "panel-check")

	// Off, from the site's row.
	step(t, ctx, "turn off", chromedp.Navigate(e.panelURL),
		chromedp.Click(chromedp.CSS(`tr[data-site="default"] button.off`)),
		chromedp.WaitVisible(chromedp.ID("flash")))
	apWantBackend(t, e.get(t, "/de/map/"), "/de/map/", "a visitor after off from the panel")

	// A change from the shell shows on the open page within the refresh.
	mg(t, e.cfg, 0, "on", "--message", "switched from the shell")
	apEventually(t, 10*time.Second, func() string {
		if row := text(t, ctx, `tr[data-site="default"]`); !strings.Contains(row, "switched from the shell") {
			return "the open page did not refresh the sites after an on from the shell: " + row
		}
		return ""
	})
	mg(t, e.cfg, 0, "off")

	// Every change is in the audit log, by the signed-in user, without
	// the token.
	audit, _ := os.ReadFile(filepath.Join(e.dir, "audit.log"))
	for _, want := range []string{`"action":"on"`, `"action":"whitelist"`, `"action":"token"`, `"action":"off"`, `"who":"admin"`} {
		if !strings.Contains(string(audit), want) {
			t.Errorf("audit log lacks %s:\n%s", want, audit)
		}
	}
	if tok := link[strings.Index(link, "token=")+6:]; strings.Contains(string(audit), tok) {
		t.Error("the bypass token is in the audit log")
	}
	if strings.Contains(string(audit), e.dj.cookie(t, "superuser")) {
		t.Error("the session cookie is in the audit log")
	}
}

// useBypassLink opens the link as a fresh browser would (following the
// redirect, keeping the cookie) and then reaches the site.
func useBypassLink(t *testing.T, e *panelEnv, link string) {
	t.Helper()
	e.wantRedirect(t, e.get(t, "/de/map/"), "a visitor before the bypass link")
	jar, _ := cookiejar.New(nil)
	c := apClient("")
	c.Jar = jar
	resp, err := c.Get(link)
	apMust(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("bypass link: %d, want 302", resp.StatusCode)
	}
	r, err := e.do(c, "GET", "/de/map/")
	apMust(t, err)
	apWantBackend(t, r, "/de/map/", "the holder of the bypass link")
	if errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestPanelKilledNeverAffectsGate: the panel is a process beside the
// gate that only writes files. Killed (SIGKILL) right after a change, the
// site stays as the panel left it, the gate still decides every request,
// and the command line still switches; only /maintgate/ is gone (Apache's
// 503 for an unreachable backend).
func TestPanelKilledNeverAffectsGate(t *testing.T) {
	e := startPanelEnv(t)
	cookie := "Cookie: sessionid=" + e.dj.cookie(t, "superuser")
	req, _ := http.NewRequest("POST", e.panelURL+"api/on", strings.NewReader(`{"message":"panel then killed"}`))
	req.Header.Set("Cookie", "sessionid="+e.dj.cookie(t, "superuser"))
	resp, err := apDefaultClient.Do(req)
	apMust(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("api/on: %d", resp.StatusCode)
	}
	apMust(t, e.cmd.Process.Kill())
	e.cmd.Wait()
	for range 20 {
		e.wantRedirect(t, e.get(t, "/de/map/"), "a visitor with the panel killed")
		apWantBackend(t, e.get(t, "/admin/"), "/admin/", "the admin with the panel killed")
	}
	apWantStatus(t, e.get(t, "/maintgate/api/status", cookie), http.StatusServiceUnavailable, "the panel's path with the panel killed")
	mg(t, e.cfg, 0, "off")
	apWantBackend(t, e.get(t, "/de/map/"), "/de/map/", "a visitor after off from the shell")
	if pids := e.mapPIDs(); len(pids) != 1 {
		t.Errorf("map processes %v, want the one Apache started", pids)
	}
}
