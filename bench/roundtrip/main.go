// Command roundtrip measures lock-step round trips through a RewriteMap
// prg: program the way Apache drives it: write one key line, wait for the
// one answer line, repeat. It prints one JSON object per run.
//
//	roundtrip -n 200000 -lines keys.txt -- ./maintgate map -config x.toml
//
// Lines are taken from the -lines file in turn (cycled); a line "RANDOM-SESSION"
// is replaced by a fresh random well-formed session cookie each time, to
// model a flood of never-seen sessions. Lines with a leading "~" are flood
// lines: the latencies of the other lines are also reported on their own,
// as "marked", since their speed is the claim.
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

type result struct {
	Name      string  `json:"name"`
	N         int     `json:"n"`
	PerSecond float64 `json:"per_second"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	// Marked* describe the lines not marked "~", when the file mixes in
	// flood lines.
	MarkedN     int            `json:"marked_n,omitempty"`
	MarkedP50us float64        `json:"marked_p50_us,omitempty"`
	MarkedP99us float64        `json:"marked_p99_us,omitempty"`
	MarkedRate  float64        `json:"marked_per_second,omitempty"`
	Answers     map[string]int `json:"answers"`
}

func main() {
	n := flag.Int("n", 100000, "round trips")
	linesFile := flag.String("lines", "", "file of key lines, cycled")
	name := flag.String("name", "", "name of this run")
	warm := flag.Int("warmup", 2000, "round trips before measuring")
	flag.Parse()
	if flag.NArg() == 0 || *linesFile == "" {
		fmt.Fprintln(os.Stderr, "usage: roundtrip -lines FILE [-n N] -- program args...")
		os.Exit(2)
	}
	data, err := os.ReadFile(*linesFile)
	if err != nil {
		fail(err)
	}
	var lines []string
	var flood []bool
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		f := strings.HasPrefix(l, "~")
		lines = append(lines, strings.TrimPrefix(l, "~"))
		flood = append(flood, f)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		fail(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	out := bufio.NewReader(outp)
	w := bufio.NewWriter(in)
	ask := func(i int) (string, time.Duration) {
		l := lines[i%len(lines)]
		if strings.Contains(l, "RANDOM-SESSION") {
			l = strings.Replace(l, "RANDOM-SESSION", randomKey(), 1)
		}
		start := time.Now()
		w.WriteString(l)
		w.WriteByte('\n')
		if err := w.Flush(); err != nil {
			fail(err)
		}
		a, err := out.ReadString('\n')
		if err != nil {
			fail(fmt.Errorf("read answer: %w", err))
		}
		return a, time.Since(start)
	}
	for i := 0; i < *warm; i++ {
		ask(i)
	}
	lat := make([]time.Duration, 0, *n)
	var marked []time.Duration
	answers := map[string]int{}
	start := time.Now()
	for i := 0; i < *n; i++ {
		a, d := ask(i)
		answers[strings.TrimSpace(a)]++
		lat = append(lat, d)
		if !flood[i%len(lines)] {
			marked = append(marked, d)
		}
	}
	total := time.Since(start)
	in.Close()
	io.Copy(io.Discard, out)
	cmd.Wait()
	r := result{Name: *name, N: *n, PerSecond: float64(*n) / total.Seconds(), Answers: answers}
	r.P50us, r.P99us = pct(lat, 50), pct(lat, 99)
	if len(marked) != len(lat) {
		r.MarkedN = len(marked)
		r.MarkedP50us, r.MarkedP99us = pct(marked, 50), pct(marked, 99)
		var sum time.Duration
		for _, d := range marked {
			sum += d
		}
		r.MarkedRate = float64(len(marked)) / sum.Seconds()
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func pct(d []time.Duration, p int) float64 {
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
