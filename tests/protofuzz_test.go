package tests

import (
	"bufio"
	"fmt"
	"github.com/maintgate/maintgate/config"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProtocolFuzz pipes random and mutated key lines into the built map
// binary and checks the protocol's invariant end to end: exactly one answer
// per line, in order, never anything but allow/redirect, no crash.
// Canary lines with known answers every few lines catch a desync (an extra
// or missing answer shifts every later answer). MAINTGATE_FUZZ_LINES sets
// the number of lines (CI: 200000; scripts/bench.sh: 10 million).
func TestProtocolFuzz(t *testing.T) {
	n := 200000
	if v := os.Getenv("MAINTGATE_FUZZ_LINES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	s := newSite(t, "")
	s.writeConfig(t, "")
	// Warnings only: a line per redirect would be 10M lines of log.
	os.WriteFile(s.config, []byte(strings.Replace(readFile(t, s.config), `level = "debug"`, `level = "warn"`, 1)), 0o644)
	s.on(t)
	cmd := exec.Command(maintgate, "map", "-config", s.config)
	in, _ := cmd.StdinPipe()
	outp, _ := cmd.StdoutPipe()
	errb := &syncBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d lines", seed, n)
	rng := rand.New(rand.NewPCG(seed, 1))
	const canaryEvery = 7
	// expect[i] is the answer line i must get, or "" for either.
	expect := make([]byte, n) // 'a' allow, 'r' redirect, 0 either
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		for i := 0; i < n; i++ {
			if i%canaryEvery == 0 {
				if (i/canaryEvery)%2 == 0 {
					expect[i] = 'a'
					lines <- "192.168.1.100 /de/map/  "
				} else {
					expect[i] = 'r'
					lines <- "203.0.113.7 /de/map/  "
				}
				continue
			}
			l := fuzzLine(rng, i)
			if k := strings.TrimSuffix(l, "\r"); k == "@retry-after" || k == "@retry-after " || strings.HasPrefix(k, "@retry-after ") && config.ValidSiteName(k[len("@retry-after "):]) {
				expect[i] = 's' // "none" or seconds
			}
			lines <- l
		}
	}()
	// Lines go in through a buffered writer while answers are read
	// concurrently (pipelined, faster than lock step; the map must not
	// care).
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(in, 64<<10)
		for l := range lines {
			w.WriteString(l)
			w.WriteByte('\n')
		}
		writeErr <- w.Flush()
		in.Close()
	}()
	r := bufio.NewReader(outp)
	got := 0
	for {
		a, err := r.ReadString('\n')
		if err == io.EOF && a == "" {
			break
		}
		if err != nil && err != io.EOF {
			t.Fatalf("after %d answers: %v", got, err)
		}
		a = strings.TrimSuffix(a, "\n")
		if got >= n {
			t.Fatalf("more answers than lines (%d)", n)
		}
		if expect[got] == 's' {
			if _, err := strconv.Atoi(a); a != "none" && err != nil {
				t.Fatalf("@retry-after answered %q", a)
			}
			got++
			continue
		}
		if a != "allow" && a != "redirect" {
			t.Fatalf("answer %d is %q", got, a)
		}
		if e := expect[got]; e != 0 && e != a[0] {
			t.Fatalf("line %d: canary answered %q: desync (seed %d)", got, a, seed)
		}
		got++
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("writing lines: %v (stderr: %s)", err, errb.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("map exited with %v\n%s", err, errb.String())
	}
	if got != n {
		t.Fatalf("%d answers for %d lines", got, n)
	}
	if strings.Contains(errb.String(), "panic") {
		t.Errorf("panic logged:\n%s", errb.String())
	}
}

var fuzzSeeds = []string{
	"203.0.113.7 /de/map/  ",
	"192.168.1.100 /static/x.css 1.2.3.4,%205.6.7.8 sessionid=abc123;%20csrftoken=x%25y%20z",
	"2001:db8::1 /pt-br/admin/ %5B::1%5D maintgate_bypass=v1.AAAA.BBBB",
	"::ffff:10.0.0.1 /a%0ab  ",
	"@retry-after",
}

// fuzzLine makes one hostile line (without '\n'): random bytes, mutated
// valid lines, huge lines, CR, NUL, unicode and invalid UTF-8.
func fuzzLine(rng *rand.Rand, i int) string {
	switch k := rng.IntN(100); {
	case k < 25: // random bytes
		b := make([]byte, rng.IntN(200))
		for j := range b {
			b[j] = byte(rng.IntN(256))
			if b[j] == '\n' {
				b[j] = '\r'
			}
		}
		return string(b)
	case k < 70: // mutated seed
		b := []byte(fuzzSeeds[rng.IntN(len(fuzzSeeds))])
		for m := rng.IntN(4) + 1; m > 0; m-- {
			if len(b) == 0 {
				break
			}
			p := rng.IntN(len(b))
			switch rng.IntN(4) {
			case 0:
				b[p] = byte(rng.IntN(256))
			case 1:
				b = append(b[:p], b[p+1:]...)
			case 2:
				const odd = " %\x00\r\xc3\xff/."
				b = append(b[:p], append([]byte{odd[rng.IntN(len(odd))]}, b[p:]...)...)
			case 3:
				b = append(b, b[p:]...)
			}
		}
		return strings.ReplaceAll(string(b), "\n", "")
	case k < 80: // unicode and invalid UTF-8 in fields
		return fmt.Sprintf("203.0.113.7 /%s %s %s", "ünï©ødé/\u202e", "\xc0\xaf", "sessionid=\xed\xa0\x80")
	case k < 90:
		return "203.0.113.7 /de/map/  \r"
	case k < 99:
		return ""
	default: // long lines; a 16 MiB one now and then
		size := 200 << 10
		if i%50000 == 1 {
			size = 16 << 20
		}
		return "203.0.113.7 /" + strings.Repeat("A", size) + "  "
	}
}
