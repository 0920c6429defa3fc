package token

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	testKey = []byte("maintgate-test-key-0123456789abc")
	t0      = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
)

func TestVectors(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "vectors.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		if sc.Text() == "" || sc.Text()[0] == '#' {
			continue
		}
		n++
		v := strings.Split(sc.Text(), "\t")
		for i, s := range v {
			if strings.HasPrefix(s, `"`) {
				if v[i], err = strconv.Unquote(s); err != nil {
					t.Fatalf("vectors.tsv:%d: %v", line, err)
				}
			}
		}
		at := fmt.Sprintf("vectors.tsv:%d", line)
		now, err := time.Parse(time.RFC3339, v[2])
		if err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		c, err := Verify([]byte(v[1]), v[3], now)
		var want error
		switch v[0] {
		case "good":
			if err != nil {
				t.Errorf("%s: Verify = %v", at, err)
				continue
			}
			is, _ := time.Parse(time.RFC3339, v[5])
			ex, _ := time.Parse(time.RFC3339, v[6])
			if c != (Claims{Label: v[4], Issued: is, Expires: ex}) {
				t.Errorf("%s: claims = %+v; want %q %v %v", at, c, v[4], is, ex)
			}
			continue
		case "malformed":
			want = ErrMalformed
		case "signature":
			want = ErrSignature
		case "expired":
			want = ErrExpired
		default:
			t.Fatalf("%s: unknown outcome %q", at, v[0])
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: Verify error = %v; want %v", at, err, want)
		}
		for _, other := range []error{ErrMalformed, ErrSignature, ErrExpired} {
			if other != want && errors.Is(err, other) {
				t.Errorf("%s: Verify error %v is also %v", at, err, other)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d vectors", n)
	}
}

// TestFormat rebuilds tokens from the documented format with plain library
// calls, so that the package and its documentation cannot drift apart.
func TestFormat(t *testing.T) {
	for _, label := range []string{"", "alice", strings.Repeat("x", MaxLabelLen), "!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~"} {
		tok, err := Issue(testKey, label, t0.Add(999*time.Millisecond), t0.Add(8*time.Hour+time.Millisecond))
		if err != nil {
			t.Fatalf("Issue(%q): %v", label, err)
		}
		payload := binary.BigEndian.AppendUint64(nil, uint64(t0.Unix()))
		payload = binary.BigEndian.AppendUint64(payload, uint64(t0.Add(8*time.Hour).Unix()))
		payload = append(payload, label...)
		p := base64.RawURLEncoding.EncodeToString(payload)
		mac := hmac.New(sha256.New, testKey)
		mac.Write([]byte("maintgate-token-v1." + p))
		want := "v1." + p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		if tok != want {
			t.Errorf("Issue(%q) =\n%s; want\n%s", label, tok, want)
		}
		if !regexp.MustCompile(`^v1\.[A-Za-z0-9_-]{22,107}\.[A-Za-z0-9_-]{43}$`).MatchString(tok) || len(tok) > 154 {
			t.Errorf("token %q is not of the documented shape", tok)
		}
		if len(label) == MaxLabelLen && len(tok) != maxLen || label == "" && len(tok) != minLen {
			t.Errorf("len(%q) = %d; want %d or %d", tok, len(tok), minLen, maxLen)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	longKey := []byte(strings.Repeat("k", 200)) // longer than a SHA-256 block
	for _, key := range [][]byte{testKey, testKey[:MinKeyLen], longKey} {
		tok, err := Issue(key, "alice", t0.Add(500*time.Millisecond), t0.Add(time.Hour+700*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Verify(key, tok, t0.Add(59*time.Minute))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		want := Claims{Label: "alice", Issued: t0, Expires: t0.Add(time.Hour)}
		if c != want {
			t.Errorf("claims = %+v; want %+v", c, want)
		}
		// Second precision: expired from the Expires second on.
		if _, err := Verify(key, tok, t0.Add(time.Hour-time.Nanosecond)); err != nil {
			t.Errorf("Verify 1ns before expiry: %v", err)
		}
		if c, err := Verify(key, tok, t0.Add(time.Hour)); !errors.Is(err, ErrExpired) || c != want {
			t.Errorf("Verify at expiry = %+v, %v; want the claims and ErrExpired", c, err)
		}
		if _, err := Verify(append([]byte{}, key[:len(key)-1]...), tok, t0); err == nil {
			t.Error("Verify with a shorter key succeeded")
		}
	}
	// Times before 1970 and far ahead survive too.
	old, far := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := Issue(testKey, "x", old, far)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := Verify(testKey, tok, t0); err != nil || !c.Issued.Equal(old) || !c.Expires.Equal(far) {
		t.Errorf("Verify = %+v, %v", c, err)
	}
}

// TestEveryCharacter changes each character of a real token to every other
// character of the alphabet and some that are not, and deletes, inserts and
// doubles each: a token that differs from an issued one in any character is
// never accepted, whatever a lenient decoder would make of it.
func TestEveryCharacter(t *testing.T) {
	tok, err := Issue(testKey, "alice", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(testKey, tok, t0); err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	others := []string{"=", "+", "/", ".", " ", "\t", "\r", "\n", "%", ";", ",", "\"", "\x00", "\xff", "é"}
	var subs []string
	for _, c := range alphabet {
		subs = append(subs, string(c))
	}
	subs = append(subs, others...)
	variants := 0
	check := func(v, what string) {
		t.Helper()
		variants++
		if v == tok {
			return
		}
		if c, err := Verify(testKey, v, t0); err == nil {
			t.Errorf("%s: variant %q verified as %+v", what, v, c)
		} else if strings.Contains(err.Error(), tok[3:20]) {
			t.Errorf("%s: error %q quotes the token", what, err)
		}
	}
	for i := range len(tok) {
		for _, s := range subs {
			check(tok[:i]+s+tok[i+1:], fmt.Sprintf("pos %d -> %q", i, s))
			check(tok[:i]+s+tok[i:], fmt.Sprintf("insert %q at %d", s, i))
		}
		check(tok[:i]+tok[i+1:], fmt.Sprintf("delete %d", i))
	}
	for _, s := range subs {
		check(tok+s, fmt.Sprintf("append %q", s))
	}
	if variants < len(tok)*len(subs) {
		t.Fatalf("only %d variants", variants)
	}
}

// TestSignedButMalformed covers payloads that only a key holder could
// produce, to show that Verify does not trust its own format blindly.
func TestSignedButMalformed(t *testing.T) {
	forge := func(payload []byte) string {
		p := base64.RawURLEncoding.EncodeToString(payload)
		mac := sign(testKey, p)
		return version + p + "." + base64.RawURLEncoding.EncodeToString(mac[:])
	}
	fixed := func(is, ex int64) []byte {
		b := binary.BigEndian.AppendUint64(nil, uint64(is))
		return binary.BigEndian.AppendUint64(b, uint64(ex))
	}
	for name, payload := range map[string][]byte{
		"expires before issued": fixed(t0.Unix(), t0.Unix()-1),
		"expires when issued":   fixed(t0.Unix(), t0.Unix()),
		"space in label":        append(fixed(t0.Unix(), t0.Unix()+10), "a b"...),
		"short":                 fixed(t0.Unix(), t0.Unix()+10)[:15],
	} {
		_, err := Verify(testKey, forge(payload), t0)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Verify = %v; want ErrMalformed", name, err)
		}
	}
}

func TestIssueErrors(t *testing.T) {
	tests := []struct {
		name     string
		key      []byte
		label    string
		is, ex   time.Time
		contains string
	}{
		{"short key", testKey[:15], "a", t0, t0.Add(time.Hour), "token key is 15 bytes, need at least 16"},
		{"nil key", nil, "a", t0, t0.Add(time.Hour), "need at least 16"},
		{"label too long", testKey, strings.Repeat("x", 65), t0, t0.Add(time.Hour), "token label is 65 bytes, at most 64 allowed"},
		{"space", testKey, "a b", t0, t0.Add(time.Hour), `token label "a b": byte 1 (' ') not allowed`},
		{"semicolon", testKey, "a;b", t0, t0.Add(time.Hour), "not allowed"},
		{"comma", testKey, "a,b", t0, t0.Add(time.Hour), "not allowed"},
		{"quote", testKey, `a"b`, t0, t0.Add(time.Hour), "not allowed"},
		{"backslash", testKey, `a\b`, t0, t0.Add(time.Hour), "not allowed"},
		{"control", testKey, "a\nb", t0, t0.Add(time.Hour), "not allowed"},
		{"DEL", testKey, "a\x7f", t0, t0.Add(time.Hour), "not allowed"},
		{"non-ASCII", testKey, "jörg", t0, t0.Add(time.Hour), "not allowed"},
		{"no lifetime", testKey, "a", t0, t0, "token expiry 2026-03-01T08:00:00Z is not after its issue time 2026-03-01T08:00:00Z"},
		{"same second", testKey, "a", t0, t0.Add(999 * time.Millisecond), "is not after"},
		{"backwards", testKey, "a", t0, t0.Add(-time.Hour), "is not after"},
	}
	for _, tt := range tests {
		tok, err := Issue(tt.key, tt.label, tt.is, tt.ex)
		if err == nil || !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("%s: Issue = %q, %v; want error containing %q", tt.name, tok, err, tt.contains)
		}
	}
	if _, err := Verify(testKey[:15], "x", t0); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("Verify with short key: %v", err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // despite the umask
			t.Fatal(err)
		}
		return p
	}
	const k = "0123456789abcdef0123"
	for _, tt := range []struct{ content, want string }{
		{k, k},
		{k + "\n", k},
		{k + "\r\n", k},
		{k + "\n\n", k + "\n"},
		{" " + k + " ", " " + k + " "},
		{k + "\r", k + "\r"},
	} {
		got, err := LoadKey(write("key", tt.content, 0o600))
		if err != nil || string(got) != tt.want {
			t.Errorf("LoadKey(%q) = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
	short := write("short", "0123456789abcde\n", 0o600)
	if _, err := LoadKey(short); err == nil || !strings.Contains(err.Error(), short) || !strings.Contains(err.Error(), "holds 15 bytes, need at least 16") {
		t.Errorf("LoadKey(short) error = %v", err)
	}
	huge := write("huge", strings.Repeat("k", 5000), 0o600)
	if _, err := LoadKey(huge); err == nil || !strings.Contains(err.Error(), huge) {
		t.Errorf("LoadKey(huge) error = %v", err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := LoadKey(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadKey(missing) error = %v", err)
	}

	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, false}, {0o660, false}, {0o644, true}, {0o602, true}, {0o666, true}} {
		p := write("mode", k, tt.mode)
		err := CheckMode(p)
		if (err != nil) != tt.warn {
			t.Errorf("CheckMode(%04o) = %v; want warning %v", tt.mode, err, tt.warn)
		}
		if err != nil && (!strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), fmt.Sprintf("%04o", tt.mode))) {
			t.Errorf("CheckMode(%04o) = %q; want it to name the file and mode", tt.mode, err)
		}
	}
	if err := CheckMode(missing); err == nil {
		t.Error("CheckMode(missing) = nil")
	}
}

func TestVerifyAllocs(t *testing.T) {
	tok, _ := Issue(testKey, "alice", t0, t0.Add(time.Hour))
	bad := tok[:len(tok)-2] + "AA"
	// crypto/hmac.New allocates its state (5 allocations in Go 1.26), the
	// message buffer escapes through hash.Hash, and a valid token costs its
	// label string. A guard against regressions, not a law.
	if n := testing.AllocsPerRun(100, func() { Verify(testKey, tok, t0) }); n > 7 {
		t.Errorf("Verify allocates %v times; want at most 7", n)
	}
	if n := testing.AllocsPerRun(100, func() { Verify(testKey, bad, t0) }); n > 6 {
		t.Errorf("Verify of a bad signature allocates %v times; want at most 6", n)
	}
}

func BenchmarkVerify(b *testing.B) {
	tok, _ := Issue(testKey, "alice", t0, t0.Add(time.Hour))
	b.Run("valid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Verify(testKey, tok, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	bad := tok[:len(tok)-2] + "AA"
	b.Run("badsig", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Verify(testKey, bad, t0)
		}
	})
	b.Run("garbage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Verify(testKey, "abc123def456", t0)
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Issue(testKey, "alice", t0, t0.Add(time.Hour))
	}
}
