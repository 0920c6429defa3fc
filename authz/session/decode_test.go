package session

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/regfile/regfiletest"
)

// vector is one line of testdata/vectors.txt, made by a real Django with
// testdata/mkvectors.py: kind name keys want data...
type vector struct {
	line                   int
	kind, name, keys, want string
	data                   []string
}

func (v vector) String() string { return v.kind + "/" + v.name }

func loadVectors(t testing.TB) (vs []vector, cur, old []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "# cur = "); ok {
			cur = []byte(k)
		}
		if k, ok := strings.CutPrefix(line, "# old = "); ok {
			old = []byte(k)
		}
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("vectors.txt:%d: too few fields", n)
		}
		vs = append(vs, vector{line: n, kind: f[0], name: f[1], keys: f[2], want: f[3], data: f[4:]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur == nil || old == nil || len(vs) < 40 {
		t.Fatalf("vectors.txt: keys or vectors missing (%d vectors)", len(vs))
	}
	return vs, cur, old
}

func keysFor(t *testing.T, name string, cur, old []byte) [][]byte {
	switch name {
	case "cur":
		return [][]byte{cur}
	case "old":
		return [][]byte{old}
	case "cur+old":
		return [][]byte{cur, old}
	case "old+cur":
		return [][]byte{old, cur}
	case "none":
		return nil
	}
	t.Fatalf("unknown keys %q", name)
	return nil
}

// errName maps the want column's error names to errors.
var errName = map[string]error{
	"bad-signature": ErrBadSignature,
	"malformed":     ErrMalformed,
	"not-json":      ErrNotJSON,
}

func TestVectors(t *testing.T) {
	vs, cur, old := loadVectors(t)
	seen := map[string]bool{}
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) {
			if seen[v.String()] {
				t.Fatalf("vectors.txt:%d: duplicate name", v.line)
			}
			seen[v.String()] = true
			keys := keysFor(t, v.keys, cur, old)
			switch v.kind {
			case "session", "cookie":
				var s Session
				var err error
				if v.kind == "session" {
					s, err = DecodeSessionData(v.data[0], keys)
				} else {
					s, err = DecodeSigned(v.data[0], SignedCookiesSalt, keys)
				}
				checkDecoded(t, v, s, err)
			case "authhash":
				got := VerifyAuthHash(v.data[0], v.data[1], keys)
				if got != (v.want == "match") {
					t.Errorf("VerifyAuthHash = %v, want %s", got, v.want)
				}
			case "password":
				ok, err := VerifyPassword(v.data[0], v.data[1])
				switch {
				case v.want == "match" || v.want == "nomatch":
					if err != nil || ok != (v.want == "match") {
						t.Errorf("VerifyPassword = %v, %v; want %s", ok, err, v.want)
					}
				case v.want == "unusable":
					if ok || !errors.Is(err, ErrUnusablePassword) {
						t.Errorf("VerifyPassword = %v, %v; want ErrUnusablePassword", ok, err)
					}
				case strings.HasPrefix(v.want, "unsupported="):
					alg := strings.TrimPrefix(v.want, "unsupported=")
					if ok || !errors.Is(err, ErrUnsupportedHasher) {
						t.Fatalf("VerifyPassword = %v, %v; want ErrUnsupportedHasher", ok, err)
					}
					if alg != "unsalted_md5" && !strings.Contains(err.Error(), `"`+alg+`"`) {
						t.Errorf("error %q does not name %q", err, alg)
					}
				default:
					t.Fatalf("vectors.txt:%d: unknown want %q", v.line, v.want)
				}
			default:
				t.Fatalf("vectors.txt:%d: unknown kind %q", v.line, v.kind)
			}
		})
	}
}

func checkDecoded(t *testing.T, v vector, s Session, err error) {
	t.Helper()
	switch {
	case strings.HasPrefix(v.want, "user="):
		if err != nil {
			t.Fatalf("err = %v, want user %q", err, strings.TrimPrefix(v.want, "user="))
		}
		if want := strings.TrimPrefix(v.want, "user="); s.UserID != want {
			t.Errorf("UserID = %q, want %q", s.UserID, want)
		}
		if s.UserID != "" {
			if s.Backend != "django.contrib.auth.backends.ModelBackend" || len(s.AuthHash) != 64 {
				t.Errorf("Backend %q, AuthHash %q: not what Django stored", s.Backend, s.AuthHash)
			}
		}
		if s.Legacy != strings.HasPrefix(v.name, "legacy") {
			t.Errorf("Legacy = %v", s.Legacy)
		}
		if !s.Legacy && v.name != "negative_timestamp" && time.Since(s.SignedAt) > 10*365*24*time.Hour {
			t.Errorf("SignedAt = %v", s.SignedAt)
		}
	case strings.HasPrefix(v.want, "err="):
		want := errName[strings.TrimPrefix(v.want, "err=")]
		if want == nil {
			t.Fatalf("vectors.txt:%d: unknown error %q", v.line, v.want)
		}
		if !errors.Is(err, want) {
			t.Errorf("err = %v, want %v", err, want)
		}
	case v.want == "age>1209600":
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		if age := time.Since(s.SignedAt); age < 1209600*time.Second {
			t.Errorf("age %v, want more than two weeks", age)
		}
	default:
		t.Fatalf("vectors.txt:%d: unknown want %q", v.line, v.want)
	}
}

func TestBase62(t *testing.T) {
	for _, n := range []int64{0, 1, 61, 62, 1700000000, 1<<63 - 1} {
		s := base62Encode(n)
		got, ok := base62Decode(s)
		if !ok || got != n {
			t.Errorf("base62Decode(base62Encode(%d) = %q) = %d, %v", n, s, got, ok)
		}
	}
	for _, s := range []string{"", "-", "!", "1 2", "zzzzzzzzzzz", "AzL8n0Y58m8", "0123456789ab"} {
		if n, ok := base62Decode(s); ok {
			t.Errorf("base62Decode(%q) = %d, want failure", s, n)
		}
	}
	if n, ok := base62Decode("-1"); !ok || n != -1 {
		t.Errorf(`base62Decode("-1") = %d, %v`, n, ok)
	}
}

func TestSignRoundTrip(t *testing.T) {
	secret := []byte("k")
	at := time.Unix(1700000000, 0)
	s := sign("eyJhIjoxfQ", SessionSalt, secret, at)
	p, ts, err := Unsign(s, SessionSalt, [][]byte{[]byte("other"), secret})
	if err != nil || p != "eyJhIjoxfQ" || !ts.Equal(at) {
		t.Fatalf("Unsign = %q, %v, %v", p, ts, err)
	}
	if _, _, err := Unsign(s, SignedCookiesSalt, [][]byte{secret}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other salt: err = %v", err)
	}
}

func TestDecodeLimits(t *testing.T) {
	// A zip bomb inside a validly signed value is refused, not inflated.
	var zeros strings.Builder
	zeros.WriteString(`{"a":"`)
	zeros.WriteString(strings.Repeat("0", maxSessionData))
	zeros.WriteString(`"}`)
	payload := "." + b64zlib([]byte(zeros.String()))
	s := sign(payload, SessionSalt, []byte("k"), time.Now())
	if _, err := DecodeSessionData(s, [][]byte{[]byte("k")}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("zip bomb: err = %v, want ErrTooLarge", err)
	}
	// Keys match exactly, and the last of a repeated key wins, as in Python.
	s = sign(b64([]byte(`{"_AUTH_USER_ID":"9","_auth_user_id":"1","_auth_user_id":"2","_auth_user_backend":"b"}`)), SessionSalt, []byte("k"), time.Now())
	got, err := DecodeSessionData(s, [][]byte{[]byte("k")})
	if err != nil || got.UserID != "2" {
		t.Errorf("duplicate keys: %+v, %v; want user 2", got, err)
	}
}

func TestSessionKeyFormat(t *testing.T) {
	good := []string{"abcdefgh", "th4kvextmcfy17eewv37dbwxffnuufw3", strings.Repeat("a", 40)}
	bad := []string{"", "abcdefg", strings.Repeat("a", 41), "ABCDEFGHIJ", "abcd efgh", "abcdefgh;", "abcdéfgh", "abc\x00defgh",
		".eJxVjDsOwjAQBe_iGlmJ_6Gk5wzW7noXB1AixUmFuDtESgHtm5n3Uhm2teat8ZLHos6qV6ffDYEePO2g3GG6zZrma:1xW3OJ:GC"}
	for _, s := range good {
		if !ValidSessionKey(s) {
			t.Errorf("ValidSessionKey(%q) = false", s)
		}
	}
	for _, s := range bad {
		if ValidSessionKey(s) {
			t.Errorf("ValidSessionKey(%q) = true", s)
		}
	}
	if !PlausibleSignedCookie(bad[len(bad)-1]) {
		t.Error("PlausibleSignedCookie(a real cookie) = false")
	}
	for _, s := range []string{"", "abc", "a:b", "a b:c:d", "a:b:c=", strings.Repeat("a", 9000) + ":1:2"} {
		if PlausibleSignedCookie(s) {
			t.Errorf("PlausibleSignedCookie(%q) = true", s)
		}
	}
}

func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	os.WriteFile(p, []byte("# Django SECRET_KEY, then old keys\n\n  current-key \t\n#x9!starts-with-hash\n#\n#\tcomment\r\nold key with space\r\n"), 0o600)
	got, err := LoadSecrets(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"current-key", "#x9!starts-with-hash", "old key with space"}
	if len(got) != len(want) {
		t.Fatalf("LoadSecrets = %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("key %d = %q, want %q", i, got[i], want[i])
		}
	}
	os.WriteFile(p, []byte("# only a comment\n"), 0o600)
	if _, err := LoadSecrets(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("empty file: err = %v, want one naming %s", err, p)
	}
	if _, err := LoadSecrets(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestLoadSecretsNotRegular: a FIFO, a device or a directory named as
// secret_key_file is refused at once, naming its type, never read (a FIFO
// would block the map's start; /dev/zero would fill its memory).
func TestLoadSecretsNotRegular(t *testing.T) {
	for typ, path := range regfiletest.Hostile(t, t.TempDir()) {
		var err error
		regfiletest.Within(t, 5*time.Second, "LoadSecrets "+typ, func() { _, err = LoadSecrets(path) })
		if err == nil || !strings.Contains(err.Error(), typ) || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadSecrets(%s): %v, want an error naming the path and %q", path, err, typ)
		}
	}
}
