package panel

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestParseCountersOfTheMap: the file the map writes (gate/stats.go's
// golden file) reads back series by series.
func TestParseCountersOfTheMap(t *testing.T) {
	b, err := os.ReadFile("../gate/testdata/stats.prom")
	must(t, err)
	c, err := ParseCounters(b)
	must(t, err)
	for i, r := range Reasons[:len(Reasons)-1] {
		if c.Answers[r] != uint64(i+1) {
			t.Errorf("%s: %d, want %d", r, c.Answers[r], i+1)
		}
	}
	if c.Redirected() != 18446744073709551615 || c.Unreadable != 9 || c.SessionLookups != 10 || c.CacheHits != 11 || c.DBErrors != 12 {
		t.Errorf("counters %+v", c)
	}
	if c.MapStart.Unix() != 1764756000 || c.Written.Unix() != 1764756010 || c.Allowed() != 1+2+3+4+5+6+7 {
		t.Errorf("times or allowed: %+v", c)
	}
	if _, err := ParseCounters([]byte("node_load1 0.5\n")); err == nil {
		t.Error("a file without the map's series parsed")
	}
}

// TestRatesAcrossMapRestart: a restart of the map (another start time,
// counters back near 0) makes no point, never a negative rate.
func TestRatesAcrossMapRestart(t *testing.T) {
	t0 := time.Unix(1764756000, 0)
	s1, s2 := t0.Add(-time.Hour), t0.Add(15*time.Second)
	pts := rates([]sample{
		{at: t0, start: s1, allowed: 100, redirected: 10},
		{at: t0.Add(10 * time.Second), start: s1, allowed: 200, redirected: 70},
		{at: t0.Add(20 * time.Second), start: s2, allowed: 5, redirected: 1},
		{at: t0.Add(30 * time.Second), start: s2, allowed: 15, redirected: 1},
	})
	if len(pts) != 2 || pts[0].allowed != 600 || pts[0].redirected != 360 || pts[1].allowed != 60 || pts[1].redirected != 0 {
		t.Fatalf("points %+v", pts)
	}
	svg := string(chartSVG([]sample{{at: t0, start: s1}, {at: t0.Add(time.Minute), start: s1, allowed: 120}}, t0.Add(time.Minute)))
	if !strings.Contains(svg, `<polyline class="allowed"`) || !strings.Contains(svg, ">200/min<") {
		t.Errorf("chart:\n%s", svg)
	}
}

// FuzzParseCounters: any file parses without panic, and the counters of
// a file in the map's format come back as written.
func FuzzParseCounters(f *testing.F) {
	b, _ := os.ReadFile("../gate/testdata/stats.prom")
	f.Add(string(b), uint64(1), uint64(2))
	f.Add("maintgate_answers_total{reason=\"\n# x\n{}", uint64(0), uint64(1<<63))
	f.Fuzz(func(t *testing.T, s string, a, r uint64) {
		ParseCounters([]byte(s))
		text := fmt.Sprintf("maintgate_answers_total{answer=\"allow\",reason=\"token\"} %d\nmaintgate_answers_total{answer=\"redirect\",reason=\"redirected\"} %d\n", a, r)
		c, err := ParseCounters([]byte(text))
		if err != nil || c.Answers["token"] != a || c.Redirected() != r {
			t.Fatalf("%q: %+v %v", text, c, err)
		}
	})
}
