package token

import (
	"errors"
	"testing"
	"time"
)

func FuzzVerify(f *testing.F) {
	for _, label := range []string{"", "alice", "monitor@example.org:nagios-1"} {
		tok, err := Issue(testKey, label, t0, t0.Add(time.Hour))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok, int64(0))
		f.Add(tok, int64(3600))
		f.Add(tok[:len(tok)-1]+"V", int64(0))
	}
	f.Add("v1.AAAAAGmj8gAAAAAAaaPyAQ==.c9VM2wJaG04H2mQee6g6FwZrkxjCmChiXqDtKgzfZsM", int64(0))
	f.Add("", int64(0))
	f.Fuzz(func(t *testing.T, value string, offset int64) {
		now := t0.Add(time.Duration(offset) * time.Second)
		c, err := Verify(testKey, value, now)
		if err != nil {
			n := 0
			for _, e := range []error{ErrMalformed, ErrSignature, ErrExpired} {
				if errors.Is(err, e) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("Verify(%q) error %v is %d of the three kinds; want 1", value, err, n)
			}
			return
		}
		again, err := Issue(testKey, c.Label, c.Issued, c.Expires)
		if err != nil || again != value {
			t.Fatalf("Verify(%q) = %+v, but Issue gives %q, %v", value, c, again, err)
		}
		if !now.Before(c.Expires) {
			t.Fatalf("Verify(%q) at %v accepted a token expiring %v", value, now, c.Expires)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("alice", t0.Unix(), int64(3600))
	f.Add("", int64(-1<<62), int64(1))
	f.Fuzz(func(t *testing.T, label string, issued, ttl int64) {
		is, ex := time.Unix(issued, 0), time.Unix(issued+ttl, 0)
		tok, err := Issue(testKey, label, is, ex)
		if err != nil {
			return
		}
		c, err := Verify(testKey, tok, is)
		if err != nil || c.Label != label || !c.Issued.Equal(is) || !c.Expires.Equal(ex) {
			t.Fatalf("Issue(%q, %v, %v) = %q; Verify = %+v, %v", label, is, ex, tok, c, err)
		}
	})
}
