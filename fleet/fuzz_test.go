package fleet

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseLink: any text parses without panic, and a link read back
// from what Format wrote of it is the same link.
func FuzzParseLink(f *testing.F) {
	l := Link{PID: 7, Redis: "redis://:xxxxx@h:6379/0", Key: "maintgate", Connected: true,
		Since: time.Unix(1764748800, 5).UTC(), Written: "2026-12-03T10:31:02Z", LastError: "dial tcp: refused",
		Kept: "shop,blog", Events: "refused: fleet Redis redis://:xxxxx@h:6379/0: subscribe to maintgate:events: NOPERM"}
	f.Add(string(l.Format()))
	f.Add("pid 1\nsince 2026-12-03T10:31:02.5+01:00\nlast_error -\n")
	f.Add("pid -1\n")
	f.Fuzz(func(t *testing.T, data string) {
		l, err := ParseLink([]byte(data))
		if err != nil {
			return
		}
		got, err := ParseLink(l.Format())
		if err != nil {
			t.Fatalf("%+v: %v", l, err)
		}
		if !sameLink(got, l) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, l)
		}
	})
}

// sameLink compares links with times by instant (a parsed offset and
// UTC are the same moment).
func sameLink(a, b Link) bool {
	if !a.Since.Equal(b.Since) || !a.LastSync.Equal(b.LastSync) || !a.ErrorAt.Equal(b.ErrorAt) {
		return false
	}
	a.Since, a.LastSync, a.ErrorAt = b.Since, b.LastSync, b.ErrorAt
	return a == b
}

// FuzzScrub: whatever the password and the text around it, the text
// scrubbed holds no copy of it.
func FuzzScrub(f *testing.F) {
	f.Add("dial tcp 127.0.0.1:6379: ", "s3cr3t", " refused")
	f.Add("", "p@ss word/%", "")
	f.Fuzz(func(t *testing.T, before, secret, after string) {
		// A secret with an x in it can be spelled anew by the text
		// around it and the "xxxxx" put in its place.
		if secret == "" || strings.Contains(secret, "x") {
			return
		}
		if s := Scrub(before+secret+after, secret); strings.Contains(s, secret) {
			t.Fatalf("Scrub(%q, %q) = %q", before+secret+after, secret, s)
		}
	})
}

// FuzzParseEvent: an event read back is the event written, and anything
// else is refused or read as one.
func FuzzParseEvent(f *testing.F) {
	f.Add("on default")
	f.Add("off shop")
	f.Add("on  ")
	f.Fuzz(func(t *testing.T, s string) {
		e, ok := ParseEvent(s)
		if !ok {
			return
		}
		if e.String() != s {
			t.Fatalf("ParseEvent(%q) = %+v, String %q", s, e, e.String())
		}
		if e2, ok := ParseEvent(e.String()); !ok || e2 != e {
			t.Fatalf("round trip of %+v: %+v %v", e, e2, ok)
		}
	})
}
