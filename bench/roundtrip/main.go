// Command roundtrip measures lock-step round trips through RewriteMap prg:
// programs the way Apache drives one: write one key line, wait for the one
// answer line, repeat.
//
//	roundtrip -lines keys.txt -batch 5000 -batches 20 \
//	    -prog echo=./echo -prog maintgate='./maintgate map -config x.toml'
//
// All programs run side by side and take short turns (-chunk round trips
// each), so a noisy neighbour slows them alike; the report gives, per
// program, the median batch rate and latency percentiles, the median of the
// per-batch rate ratios to the first program (the floor), and the median of
// the per-batch ratios of median latencies (floor p50 / program p50), which
// a few slow round trips cannot move.
//
// Lines are taken from the -lines file in turn; "RANDOM-SESSION" in a line
// is replaced by a fresh random well-formed session key each time (a flood
// of never-seen sessions). Lines with a leading "~" are flood lines: the
// latencies of the other lines are also reported on their own ("marked").
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

type prog struct {
	name    string
	cmd     *exec.Cmd
	in      *bufio.Writer
	closeIn io.Closer
	out     *bufio.Reader
	pos     int
	lat     []time.Duration
	marked  []time.Duration
	rates   []float64
	p50s    []float64 // per batch, µs
	mrates  []float64
	answers map[string]int
}

type result struct {
	Case        string         `json:"case"`
	Mode        string         `json:"mode,omitempty"`
	Prog        string         `json:"prog"`
	Batches     int            `json:"batches"`
	Batch       int            `json:"batch"`
	Chunk       int            `json:"chunk"`
	PerSecond   float64        `json:"per_second"`
	P50us       float64        `json:"p50_us"`
	P99us       float64        `json:"p99_us"`
	Ratio       float64        `json:"ratio"`     // median of per-batch rate ratios to the floor
	P50Ratio    float64        `json:"p50_ratio"` // median of per-batch floor p50 / p50
	MarkedRate  float64        `json:"marked_per_second,omitempty"`
	MarkedP50us float64        `json:"marked_p50_us,omitempty"`
	MarkedP99us float64        `json:"marked_p99_us,omitempty"`
	MarkedRatio float64        `json:"marked_ratio,omitempty"`
	Answers     map[string]int `json:"answers"`
}

type progFlags []string

func (p *progFlags) String() string     { return strings.Join(*p, ";") }
func (p *progFlags) Set(s string) error { *p = append(*p, s); return nil }

func main() {
	linesFile := flag.String("lines", "", "file of key lines, cycled")
	caseName := flag.String("case", "", "name of this case, for the report")
	batch := flag.Int("batch", 5000, "round trips per batch")
	batches := flag.Int("batches", 10, "batches per program")
	warm := flag.Int("warmup", 2000, "round trips per program before measuring")
	chunk := flag.Int("chunk", 100, "round trips per program per turn within a batch")
	mode := flag.String("mode", "", "how the run was placed (e.g. pinned), for the report")
	var progs progFlags
	flag.Var(&progs, "prog", "name=command line (repeatable; the first is the floor)")
	flag.Parse()
	if len(progs) == 0 || *linesFile == "" {
		fmt.Fprintln(os.Stderr, "usage: roundtrip -lines FILE -prog name=cmd [-prog name=cmd]...")
		os.Exit(2)
	}
	data, err := os.ReadFile(*linesFile)
	if err != nil {
		fail(err)
	}
	var lines []string
	var flood []bool
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		flood = append(flood, strings.HasPrefix(l, "~"))
		lines = append(lines, strings.TrimPrefix(l, "~"))
	}
	var ps []*prog
	for _, spec := range progs {
		name, cmdline, ok := strings.Cut(spec, "=")
		if !ok {
			fail(fmt.Errorf("-prog %q: want name=command", spec))
		}
		args := strings.Fields(cmdline)
		p := &prog{name: name, cmd: exec.Command(args[0], args[1:]...), answers: map[string]int{}}
		p.cmd.Stderr = io.Discard
		in, err := p.cmd.StdinPipe()
		if err != nil {
			fail(err)
		}
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			fail(err)
		}
		if err := p.cmd.Start(); err != nil {
			fail(err)
		}
		p.in, p.closeIn, p.out = bufio.NewWriter(in), in, bufio.NewReader(out)
		ps = append(ps, p)
	}
	ask := func(p *prog, record bool) time.Duration {
		i := p.pos % len(lines)
		p.pos++
		l := lines[i]
		if before, after, ok := strings.Cut(l, "RANDOM-SESSION"); ok {
			l = before + randomKey() + after // a new key only where one is asked for
		}
		start := time.Now()
		p.in.WriteString(l)
		p.in.WriteByte('\n')
		if err := p.in.Flush(); err != nil {
			fail(fmt.Errorf("%s: write: %w", p.name, err))
		}
		a, err := p.out.ReadString('\n')
		if err != nil {
			fail(fmt.Errorf("%s: read answer: %w", p.name, err))
		}
		d := time.Since(start)
		if record {
			p.answers[strings.TrimSpace(a)]++
			p.lat = append(p.lat, d)
			if !flood[i] {
				p.marked = append(p.marked, d)
			}
		}
		return d
	}
	for _, p := range ps {
		for i := 0; i < *warm; i++ {
			ask(p, false)
		}
	}
	// A batch is made of short turns (chunk round trips per program, the
	// programs in an order rotated every turn), so that a noisy moment on a
	// shared machine falls on every program alike; a batch's rate is its
	// round trips over the time spent in them.
	for b := 0; b < *batches; b++ {
		spent := make([]time.Duration, len(ps))
		m0, l0 := make([]int, len(ps)), make([]int, len(ps))
		for j, p := range ps {
			m0[j], l0[j] = len(p.marked), len(p.lat)
		}
		for done, turn := 0, 0; done < *batch; done, turn = done+*chunk, turn+1 {
			n := min(*chunk, *batch-done)
			for k := range ps {
				j := (k + turn) % len(ps)
				for i := 0; i < n; i++ {
					spent[j] += ask(ps[j], true)
				}
			}
		}
		for j, p := range ps {
			p.rates = append(p.rates, float64(*batch)/spent[j].Seconds())
			p.p50s = append(p.p50s, pct(p.lat[l0[j]:], 50))
			if n := len(p.marked) - m0[j]; n > 0 && n < *batch {
				var sum time.Duration
				for _, d := range p.marked[m0[j]:] {
					sum += d
				}
				p.mrates = append(p.mrates, float64(n)/sum.Seconds())
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	floor := ps[0]
	for _, p := range ps {
		p.closeIn.Close()
		io.Copy(io.Discard, p.out)
		p.cmd.Wait()
		r := result{Case: *caseName, Mode: *mode, Prog: p.name, Batches: *batches, Batch: *batch, Chunk: *chunk, Answers: p.answers,
			PerSecond: median(p.rates), P50us: pct(p.lat, 50), P99us: pct(p.lat, 99)}
		var ratios []float64
		for b := range p.rates {
			ratios = append(ratios, p.rates[b]/floor.rates[b])
		}
		r.Ratio = median(ratios)
		var p50r []float64
		for b := range p.p50s {
			p50r = append(p50r, floor.p50s[b]/p.p50s[b])
		}
		r.P50Ratio = median(p50r)
		if len(p.mrates) > 0 {
			r.MarkedRate, r.MarkedP50us, r.MarkedP99us = median(p.mrates), pct(p.marked, 50), pct(p.marked, 99)
			var mr []float64
			for b := range p.mrates {
				mr = append(mr, p.mrates[b]/floor.rates[b])
			}
			r.MarkedRatio = median(mr)
		}
		enc.Encode(r)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100]) / 1e3
}

func randomKey() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [32]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "roundtrip:", err)
	os.Exit(1)
}
