package lockout

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzParseEntry: any line of the failure record reads without a panic,
// and a line that reads is one the record writes the same way (the
// format of Record.write), so a record survives its own round trip.
func FuzzParseEntry(f *testing.F) {
	f.Add([]byte("1764750000000000000 203.0.113.0/24 5f2b1c"))
	f.Add([]byte("1 :: -"))
	f.Add([]byte("x y z"))
	f.Add([]byte("  1\t2 3  "))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, ok := parseEntry(line)
		if !ok {
			return
		}
		w := fmt.Sprintf("%d %s %s", e.at, e.addr, e.user)
		again, ok := parseEntry([]byte(w))
		if !ok || again != e {
			t.Fatalf("%q read as %+v, written %q, read again as %+v (%v)", line, e, w, again, ok)
		}
		if len(bytes.Fields([]byte(w))) != 3 {
			t.Fatalf("written line %q is not three fields", w)
		}
	})
}
