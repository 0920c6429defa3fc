package panel

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/flagfile"
)

// BenchmarkStatusPage: the page an operator keeps open (GET /, signed in
// with htpasswd), and the JSON status and live view it refreshes, while
// stats_file is replaced by rename every millisecond (the map writes it
// every 10 s: this is a hundred times worse) and the panel reads it every
// 10 ms. The page has an hour of samples and 1000 audit lines behind it.
// p50-µs and p99-µs are per request, through a real loopback connection;
// stats=quiet is the same without the rewrites, for comparison.
//
//	go test -run XXX -bench StatusPage -benchtime 2000x ./panel/
func BenchmarkStatusPage(b *testing.B) {
	for _, path := range []string{"/", "/api/status", "/live"} {
		for _, rewrite := range []bool{false, true} {
			name := "page=" + strings.Trim(path, "/") + "/stats=quiet"
			if rewrite {
				name = "page=" + strings.Trim(path, "/") + "/stats=rewritten-every-1ms"
			}
			b.Run(name, func(b *testing.B) { benchPage(b, path, rewrite) })
		}
	}
}

func benchPage(b *testing.B, path string, rewrite bool) {
	p := newBenchPanel(b)
	stats, err := os.ReadFile("../gate/testdata/stats.prom")
	must(b, err)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; rewrite; i++ {
			select {
			case <-stop:
				return
			default:
			}
			text := strings.Replace(string(stats), "maintgate_stats_time_seconds 1764756010", fmt.Sprintf("maintgate_stats_time_seconds %d", 1764756010+i), 1)
			flagfile.WriteAtomic(filepath.Join(p.dir, "stats.prom"), []byte(text), 0o644)
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	c := &http.Client{}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("GET", p.http.URL+path, nil)
		req.SetBasicAuth("alice", "alice-pw")
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var buf [32 << 10]byte
		for {
			if _, err := resp.Body.Read(buf[:]); err != nil {
				break
			}
		}
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// newBenchPanel is newTestPanel for a benchmark: its samples and audit
// log filled as after an hour of use.
func newBenchPanel(b *testing.B) *testPanel {
	dir := b.TempDir()
	p := benchSetup(b, dir)
	now := time.Now()
	for i := range 360 {
		p.srv.hist.samples = append(p.srv.hist.samples, sample{at: now.Add(time.Duration(i-360) * 10 * time.Second),
			start: now.Add(-2 * time.Hour), allowed: uint64(i * 500), redirected: uint64(i * 120)})
	}
	for i := range 1000 {
		must(b, audit.Append(filepath.Join(dir, "audit.log"), audit.Entry{Who: "alice", Via: "panel", Action: "on", Site: "default",
			Details: map[string]any{"message": fmt.Sprintf("change %d", i)}}))
	}
	return p
}
