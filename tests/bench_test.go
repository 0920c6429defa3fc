package tests

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkRoundTrip is one lock-step round trip (write a key line, read
// the answer) through the built binary, beside the same through a C program
// that answers at once: the ratio of the two is what maintgate costs.
// scripts/bench.sh measures the same more carefully (interleaved batches,
// percentiles) for BENCHMARKS.md.
func BenchmarkRoundTrip(b *testing.B) {
	echo := filepath.Join(b.TempDir(), "echo")
	if out, err := exec.Command("gcc", "-O2", "-o", echo, filepath.Join(repoRoot, "bench/echo/echo.c")).CombinedOutput(); err != nil {
		b.Fatalf("gcc: %v\n%s", err, out)
	}
	cases := []struct{ name, line string }{
		{"redirect", blocked},
		{"static", "203.0.113.7 /static/site.css  "},
		{"whitelisted", "192.168.1.100 /de/map/  "},
	}
	for _, c := range cases {
		b.Run("echo/"+c.name, func(b *testing.B) {
			m := startProc(b, exec.Command(echo))
			for b.Loop() {
				m.askFast(c.line)
			}
		})
		b.Run("maintgate/"+c.name, func(b *testing.B) {
			s := newSite(b, "")
			s.on(b)
			m := startMap(b, s)
			for b.Loop() {
				m.askFast(c.line)
			}
		})
	}
}
