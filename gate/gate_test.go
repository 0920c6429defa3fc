package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maintgate/maintgate/rewritemap"
)

func openTestGate(tb testing.TB, extra string, active bool) *Gate {
	tb.Helper()
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "maintgate.toml")
	os.WriteFile(filepath.Join(dir, "token.key"), []byte("0123456789abcdef0123456789abcdef"), 0o600)
	text := "flag_file = \"maintenance\"\nstate_map = \"state.map\"\nwhitelist = [\"192.168.1.100\", \"10.0.0.0/8\"]\n" + extra +
		"\n[log]\nfile = \"maintgate.log\"\n[token]\nkey_file = \"token.key\"\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	if active {
		os.WriteFile(filepath.Join(dir, "maintenance"), nil, 0o644)
	}
	g, err := Open(Options{ConfigPath: cfg, AsyncLog: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { g.Close() })
	return g
}

// BenchmarkAnswer is the in-process cost of one key line, per path, with
// its log line (which the map writes after the answer is flushed).
func BenchmarkAnswer(b *testing.B) {
	const csrf = "csrftoken=Zq3kE8vJb1mN7xYc2LpRt5WuA9sDf0GhKoIeVnBmQwErTyUiOpAsDfGhJkLzXcVb"
	cases := []struct {
		name   string
		active bool
		line   string
	}{
		{"off", false, "203.0.113.7 /de/map/  " + csrf},
		{"static", true, "203.0.113.7 /static/css/site.css  " + csrf},
		{"whitelisted", true, "192.168.1.100 /de/map/  " + csrf},
		{"redirect", true, "203.0.113.7 /de/map/  " + csrf},
		{"unreadable", true, "garbage"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			g := openTestGate(b, "", c.active)
			l := rewritemap.Line{Text: []byte(c.line)}
			b.ReportAllocs()
			for b.Loop() {
				g.Answer(l)
				g.After()
			}
		})
	}
}

func TestAnswerSpecialKeys(t *testing.T) {
	g := openTestGate(t, "", true)
	if got := g.Answer(rewritemap.Line{Text: []byte("@retry-after")}); got != "none" {
		t.Errorf("@retry-after without an end time: %q", got)
	}
}

// TestAsyncLogFormats: both formats reach the file whole, a line per
// event, after Close, however many events were batched into one write.
func TestAsyncLogFormats(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		p := filepath.Join(t.TempDir(), "log")
		lg, err := NewLogger(LogOptions{File: p, Level: "info", Format: format, Async: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 500; i++ {
			lg.Info().Int("n", i).Msg("event")
		}
		lg.Close()
		b, _ := os.ReadFile(p)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 500 || !strings.Contains(lines[499], "499") || !strings.Contains(lines[0], "event") {
			t.Errorf("%s: %d lines, last %q", format, len(lines), lines[len(lines)-1])
		}
	}
}

// TestMaintenancePageAlwaysOpen: maintenance_page is let through even when
// allow_paths does not list it (else the redirect to it would loop), and
// only it: the rest of the site stays closed.
func TestMaintenancePageAlwaysOpen(t *testing.T) {
	s := newSite(t)
	s.writeConfig("maintenance_page = \"/down.html\"\nallow_paths = [\"/static/\"]")
	s.write("maintenance", "")
	g := s.open()
	for path, want := range map[string]string{
		"/down.html":        rewritemap.Allow,
		"/static/app.css":   rewritemap.Allow,
		"/maintenance.html": rewritemap.Redirect,
		"/down.html.bak":    rewritemap.Redirect,
		"/de/map/":          rewritemap.Redirect,
	} {
		if got := ask(g, stranger+" "+path+"  "); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
}
