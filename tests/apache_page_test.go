package tests

// The maintenance page: the shipped template and static default, the example
// configuration, and the page as a real browser (headless Chromium) renders
// it when Apache serves it.

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// apPageConfig writes a maintgate.toml that renders the shipped template into
// a temporary directory, and returns its path and the page's.
func apPageConfig(t *testing.T) (cfg, page string) {
	t.Helper()
	dir := t.TempDir()
	page = filepath.Join(dir, "maintenance.html")
	cfg = filepath.Join(dir, "maintgate.toml")
	apWriteFile(t, cfg, "flag_file = "+strconv.Quote(filepath.Join(dir, "flag"))+"\n"+
		"state_map = "+strconv.Quote(filepath.Join(dir, "state.map"))+"\n"+
		"page_template = "+strconv.Quote(filepath.Join(repoRoot, "apache-conf/maintenance.html.tmpl"))+"\n"+
		"page_file = "+strconv.Quote(page)+"\n")
	return cfg, page
}

// The shipped static page is exactly what `maintgate off` renders from the
// shipped template: installs without a template serve the same page.
func TestApachePageStaticDefaultIsRendered(t *testing.T) {
	cfg, page := apPageConfig(t)
	mg(t, cfg, 0, "off")
	got, err := os.ReadFile(page)
	apMust(t, err)
	want, err := os.ReadFile(filepath.Join(repoRoot, "apache-conf/maintenance.html"))
	apMust(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("apache-conf/maintenance.html differs from what `maintgate off` renders from maintenance.html.tmpl; regenerate it:\n"+
			"  render with page_template = apache-conf/maintenance.html.tmpl and copy page_file over it\n--- rendered:\n%s", got)
	}
}

func TestApachePageTemplate(t *testing.T) {
	cfg, page := apPageConfig(t)
	read := func() string {
		b, err := os.ReadFile(page)
		apMust(t, err)
		return string(b)
	}

	mg(t, cfg, 0, "on", "--message", "Upgrading the <database> & friends.\nBack soon.", "--until", "90m")
	on := read()
	for _, want := range []string{
		"<title>Down for maintenance</title>",
		"Upgrading the &lt;database&gt; &amp; friends.\nBack soon.",
		"Expected back:",
		`<time datetime="`,
		`<a class="button" href="/admin/login/?next=/">Staff login</a>`,
		`<meta http-equiv="refresh" content="300">`, // 90 minutes away: reload every 5 minutes
		`<html lang="en">`,
	} {
		if !strings.Contains(on, want) {
			t.Errorf("page rendered by `on` lacks %q:\n%s", want, on)
		}
	}

	mg(t, cfg, 0, "off")
	off := read()
	if !strings.Contains(off, "Temporarily unavailable") || strings.Contains(off, "maintenance") || strings.Contains(off, "Upgrading") {
		t.Errorf("page rendered by `off` must say temporarily unavailable, not maintenance:\n%s", off)
	}
	if !strings.Contains(off, `<meta http-equiv="refresh" content="60">`) {
		t.Errorf("page rendered by `off`: no 60 s refresh:\n%s", off)
	}

	// Nothing the page needs may live elsewhere: the site is down.
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, "apache-conf/maintenance.html.tmpl"))
	apMust(t, err)
	external := regexp.MustCompile(`(?i)(src|href|action)\s*=\s*["']?\s*(https?:)?//|<script|<link|<iframe|@import|url\(`)
	for _, s := range []string{string(tmpl), on, off} {
		if m := external.FindString(s); m != "" {
			t.Errorf("maintenance page references something outside itself: %q", m)
		}
	}
}

// The example configuration is valid as shipped (apart from its absolute
// directories, which exist only on an installed system).
func TestApacheExampleConfig(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(repoRoot, "apache-conf/maintgate.toml"))
	apMust(t, err)
	text := strings.NewReplacer(
		"/var/lib/maintgate/", dir+"/",
		"/var/www/maintgate/", dir+"/",
		"/etc/maintgate/maintenance.html.tmpl", filepath.Join(repoRoot, "apache-conf/maintenance.html.tmpl"),
	).Replace(string(b))
	cfg := filepath.Join(dir, "maintgate.toml")
	apWriteFile(t, cfg, text)
	out := mg(t, cfg, 0, "config", "check")
	for _, want := range []string{`"/healthz"`, `"/maintenance.json"`, `on_error = "redirect"`} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %s:\n%s", want, out)
		}
	}
}

// The page in a real browser: headless Chromium takes a screenshot of
// /maintenance.html as Apache serves it. MAINTGATE_SCREENSHOT_DIR keeps the
// PNG files for a human to look at.
func TestApachePageScreenshot(t *testing.T) {
	browser := ""
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(b); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		requireTool(t, "chromium", "Chromium for the screenshot (Debian package chromium)")
	}
	a := startApache(t, apacheOpts{})
	a.on(t, "--message", "We are upgrading the database to serve you faster.", "--until", "45m")
	shots := map[string]string{"maintenance": a.base + "/maintenance.html"}

	// And the backend-down page (rendered by `off`).
	shoot := func(name, url string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), name+".png")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, browser,
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--hide-scrollbars", "--user-data-dir="+t.TempDir(), "--screenshot="+file,
			"--window-size=1280,900", url)
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s --screenshot %s: %v\n%s", browser, url, err, apTail(string(out), 3000))
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("no screenshot: %v\n%s", err, apTail(string(out), 3000))
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("screenshot %s is not a PNG: %v", file, err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
			t.Errorf("screenshot is %dx%d, want 1280x900", b.Dx(), b.Dy())
		}
		if n := pngColours(img); n < 50 {
			t.Errorf("screenshot %s has %d colours: a blank or broken page?", name, n)
		}
		fi, _ := f.Stat()
		t.Logf("%s: %s, %d bytes, %d colours", name, file, fi.Size(), pngColours(img))
		if dir := os.Getenv("MAINTGATE_SCREENSHOT_DIR"); dir != "" {
			apCopyFile(t, file, filepath.Join(dir, name+".png"), 0o644)
		}
	}
	for name, url := range shots {
		shoot(name, url)
	}
	mg(t, a.cfg, 0, "off")
	a.backend.stop()
	shoot("unavailable", a.base+"/")
}

// pngColours counts distinct colours, up to 1000.
func pngColours(img image.Image) int {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[r>>8<<16|g>>8<<8|bl>>8] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
