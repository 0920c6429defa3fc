package panel

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
)

// chart.go: the last hour as a small SVG drawn on the server (no script
// needed to see it): answers per minute, allowed and redirected, from the
// samples of stats_file. Only numbers the panel computed go into it.

const (
	chartW, chartH = 640, 160
	chartPad       = 36 // left margin for the scale
)

// point is one rate between two samples, at the later one.
type point struct {
	at                  time.Time
	allowed, redirected float64 // per minute
}

// rates turns counter samples into per-minute rates. A pair that spans a
// restart of the map (another start time, or a counter that went down)
// gives no point: the counters began again at 0.
func rates(s []sample) []point {
	var out []point
	for i := 1; i < len(s); i++ {
		a, b := s[i-1], s[i]
		dt := b.at.Sub(a.at).Seconds()
		if dt <= 0 || !a.start.Equal(b.start) || b.allowed < a.allowed || b.redirected < a.redirected {
			continue
		}
		out = append(out, point{at: b.at,
			allowed:    float64(b.allowed-a.allowed) * 60 / dt,
			redirected: float64(b.redirected-a.redirected) * 60 / dt})
	}
	return out
}

// chartSVG draws the hour before now.
func chartSVG(s []sample, now time.Time) template.HTML {
	pts := rates(s)
	from := now.Add(-time.Hour)
	top := 1.0
	for _, p := range pts {
		top = max(top, p.allowed, p.redirected)
	}
	top = niceCeil(top)
	x := func(t time.Time) float64 {
		return chartPad + float64(chartW-chartPad-4)*t.Sub(from).Seconds()/3600
	}
	y := func(v float64) float64 { return float64(chartH-20) - float64(chartH-30)*v/top }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" role="img" aria-label="answers per minute, last hour">`, chartW, chartH)
	fmt.Fprintf(&b, `<text x="2" y="14" class="scale">%s/min</text><text x="2" y="%d" class="scale">0</text>`, fmtRate(top), chartH-20)
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="axis"/>`, chartPad, y(0), chartW-4, y(0))
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`, chartPad, y(top), chartW-4, y(top))
	for m := 0; m <= 60; m += 15 {
		t := from.Add(time.Duration(m) * time.Minute)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="scale" text-anchor="middle">-%dm</text>`, x(t), chartH-4, 60-m)
	}
	line := func(class string, v func(point) float64) {
		var ps []byte
		for _, p := range pts {
			if p.at.Before(from) {
				continue
			}
			ps = strconv.AppendFloat(ps, x(p.at), 'f', 1, 64)
			ps = append(ps, ',')
			ps = strconv.AppendFloat(ps, y(v(p)), 'f', 1, 64)
			ps = append(ps, ' ')
		}
		if len(ps) > 0 {
			fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, class, ps[:len(ps)-1])
		}
	}
	line("allowed", func(p point) float64 { return p.allowed })
	line("redirected", func(p point) float64 { return p.redirected })
	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="scale" text-anchor="middle">no readings yet: the map writes its counters every 10 s</text>`, chartW/2, chartH/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtRate(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.0fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}
