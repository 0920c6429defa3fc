package fleet

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseLink: any text parses without panic; a link written by
// Format reads back as it was (values made one line each).
func FuzzParseLink(f *testing.F) {
	f.Add(7, "redis://:xxxxx@h:6379/0", "maintgate", true, int64(1764748800), "2026-12-03T10:31:02Z", "dial tcp: refused\nsecond line")
	f.Add(1, "", "", false, int64(0), "", "")
	f.Fuzz(func(t *testing.T, pid int, url, key string, conn bool, unix int64, written, lastErr string) {
		ParseLink([]byte(url + "\n" + key + "\n" + written + "\n" + lastErr))
		if pid <= 0 {
			return
		}
		at := time.Unix(unix%(1<<40), 0).UTC()
		l := Link{PID: pid, Redis: url, Key: key, Connected: conn, Since: at, LastSync: at, Written: written, ErrorAt: at, LastError: lastErr}
		got, err := ParseLink(l.Format())
		if err != nil {
			t.Fatalf("%+v: %v", l, err)
		}
		one := func(s string) string {
			s = strings.Join(strings.Fields(s), " ")
			if s == "-" {
				return ""
			}
			return s
		}
		want := l
		want.Redis, want.Key, want.Written, want.LastError = one(url), one(key), one(written), one(lastErr)
		if got != want {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	})
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
