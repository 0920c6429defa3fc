// Package token issues and verifies bypass tokens: cookie values that let an
// operator (or a tester, a monitor) through while maintenance is on, without
// a whitelisted address or a session.
//
// A token is
//
//	v1.<payload>.<mac>
//
// where both parts are unpadded base64url (RFC 4648 §5) and
//
//	payload = issued (int64, big endian, Unix seconds)
//	       || expires (int64, big endian, Unix seconds)
//	       || label (0 to 64 bytes of printable ASCII)
//	mac     = HMAC-SHA256(key, "maintgate-token-v1." + <payload>)
//
// The MAC covers the payload as text, so the version and the exact encoding
// are signed, and it is checked before the payload is decoded. Every part is
// decoded strictly and must re-encode to the same text: a token that differs
// from an issued one in any character is rejected, even where a lenient
// base64 decoder would read the same bytes. The alphabet needs no quoting in
// a Cookie header, and a token is at most 154 bytes.
//
// Tokens cannot be revoked one by one: replacing the key revokes them all.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/maintgate/maintgate/internal/regfile"
)

const (
	// MinKeyLen is the shortest key accepted: 128 bits, if the key is
	// random bytes; a key made of text needs more bytes for the same.
	MinKeyLen = 16
	// MaxLabelLen bounds the label so that a token stays a small cookie.
	MaxLabelLen = 64

	version    = "v1."
	domain     = "maintgate-token-v1." // kept apart from any other use of the key
	fixedLen   = 16                    // issued, expires
	maxPayload = fixedLen + MaxLabelLen

	// Unpadded base64 lengths.
	minPayloadEncLen = (8*fixedLen + 5) / 6
	maxPayloadEncLen = (8*maxPayload + 5) / 6
	macEncLen        = (8*sha256.Size + 5) / 6

	minLen = len(version) + minPayloadEncLen + 1 + macEncLen
	maxLen = len(version) + maxPayloadEncLen + 1 + macEncLen

	// maxKeyFile bounds what LoadKey reads, so that a key_file pointing at
	// the wrong file (a log, a device) fails instead of filling memory.
	maxKeyFile = 4096
)

// b64 is read-only; a variable only because Strict returns a pointer.
var b64 = base64.RawURLEncoding.Strict()

// The errors Verify returns wrap one of these, so that the caller can log
// why a token was refused without parsing messages.
var (
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("bad token signature (tampered, or signed with another key)")
	ErrExpired   = errors.New("token expired")
)

// Claims is what a valid token says. Times have second precision and are
// in UTC.
type Claims struct {
	Label   string
	Issued  time.Time
	Expires time.Time
}

// Issue returns a token for label that is valid until (not including)
// expires. Both times are truncated to the second; issued is recorded for the
// logs and not checked by Verify, so a clock step back does not lock out a
// token just issued. The label identifies the holder in the logs, so it is
// limited to what can be logged and put in a cookie without quoting:
// printable ASCII except space, '"', ',', ';' and '\'.
func Issue(key []byte, label string, issued, expires time.Time) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := checkLabel(label); err != nil {
		return "", err
	}
	is, ex := issued.Unix(), expires.Unix()
	if ex <= is {
		return "", fmt.Errorf("token expiry %s is not after its issue time %s",
			time.Unix(ex, 0).UTC().Format(time.RFC3339), time.Unix(is, 0).UTC().Format(time.RFC3339))
	}
	var p [maxPayload]byte
	binary.BigEndian.PutUint64(p[0:], uint64(is))
	binary.BigEndian.PutUint64(p[8:], uint64(ex))
	n := fixedLen + copy(p[fixedLen:], label)

	b := make([]byte, 0, maxLen)
	b = append(b, version...)
	b = b64.AppendEncode(b, p[:n])
	mac := sign(key, b[len(version):])
	b = append(b, '.')
	b = b64.AppendEncode(b, mac[:])
	return string(b), nil
}

// Verify checks value against key and returns its claims. A token is
// expired from its Expires second on (now >= Expires); its claims are then
// returned with the error, so that the caller can log whose token it was.
// Errors wrap exactly one of ErrMalformed, ErrSignature and ErrExpired, except
// for a key shorter than MinKeyLen, and never quote the token: it is a
// credential until it expires.
func Verify(key []byte, value string, now time.Time) (Claims, error) {
	if err := checkKey(key); err != nil {
		return Claims{}, err
	}
	if len(value) < minLen || len(value) > maxLen {
		return Claims{}, fmt.Errorf("%w: %d bytes long, want %d to %d", ErrMalformed, len(value), minLen, maxLen)
	}
	if value[:len(version)] != version {
		return Claims{}, fmt.Errorf("%w: not a %s token", ErrMalformed, version[:len(version)-1])
	}
	sep := len(value) - macEncLen - 1
	if value[sep] != '.' {
		return Claims{}, fmt.Errorf("%w: no signature part", ErrMalformed)
	}
	payloadText, macText := value[len(version):sep], value[sep+1:]

	var got [sha256.Size]byte
	if n, ok := decodeExact(got[:], macText); !ok || n != len(got) {
		return Claims{}, fmt.Errorf("%w: signature is not canonical base64url", ErrMalformed)
	}
	want := sign(key, payloadText)
	if !hmac.Equal(got[:], want[:]) {
		return Claims{}, ErrSignature
	}

	// Signed by us from here on; the checks below guard against a bug or a
	// future format, not against an attacker.
	var p [maxPayload]byte
	n, ok := decodeExact(p[:], payloadText)
	if !ok || n < fixedLen {
		return Claims{}, fmt.Errorf("%w: payload is not canonical base64url", ErrMalformed)
	}
	label := string(p[fixedLen:n])
	if err := checkLabel(label); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	is := int64(binary.BigEndian.Uint64(p[0:]))
	ex := int64(binary.BigEndian.Uint64(p[8:]))
	if ex <= is {
		return Claims{}, fmt.Errorf("%w: expires before it was issued", ErrMalformed)
	}
	c := Claims{Label: label, Issued: time.Unix(is, 0).UTC(), Expires: time.Unix(ex, 0).UTC()}
	if now.Unix() >= ex {
		return c, fmt.Errorf("%w at %s (label %q)", ErrExpired, c.Expires.Format(time.RFC3339), label)
	}
	return c, nil
}

// sign returns the MAC of a payload part, which callers have bounded to
// maxPayloadEncLen bytes.
func sign[T string | []byte](key []byte, payloadText T) [sha256.Size]byte {
	var msg [len(domain) + maxPayloadEncLen]byte
	n := copy(msg[:], domain)
	n += copy(msg[n:], payloadText)
	h := hmac.New(sha256.New, key)
	h.Write(msg[:n])
	// msg escapes to the heap through the hash.Hash interface anyway, so
	// the sum reuses it rather than costing one more allocation.
	return [sha256.Size]byte(h.Sum(msg[:0]))
}

// decodeExact decodes s into dst (which must have room) and reports whether s
// is the one canonical encoding of what it decoded to. Strict decoding alone
// is not enough: it still skips '\r' and '\n'.
func decodeExact(dst []byte, s string) (int, bool) {
	var src, re [maxPayloadEncLen + 1]byte
	if len(s) > len(src) || b64.DecodedLen(len(s)) > len(dst) {
		return 0, false
	}
	copy(src[:], s)
	n, err := b64.Decode(dst, src[:len(s)])
	if err != nil {
		return 0, false
	}
	b64.Encode(re[:], dst[:n])
	return n, string(re[:b64.EncodedLen(n)]) == s
}

func checkKey(key []byte) error {
	if len(key) < MinKeyLen {
		return fmt.Errorf("token key is %d bytes, need at least %d", len(key), MinKeyLen)
	}
	return nil
}

func checkLabel(label string) error {
	if len(label) > MaxLabelLen {
		return fmt.Errorf("token label is %d bytes, at most %d allowed", len(label), MaxLabelLen)
	}
	for i := 0; i < len(label); i++ {
		switch c := label[i]; {
		case c <= ' ' || c >= 0x7f, c == '"', c == ',', c == ';', c == '\\':
			return fmt.Errorf("token label %q: byte %d (%q) not allowed; use printable ASCII without space, '\"', ',', ';' or '\\'", label, i, c)
		}
	}
	return nil
}

// LoadKey reads a key file. The key is the file's bytes as they are, less one
// trailing newline ("\n" or "\r\n") that an editor or `echo` adds; so a key
// made with `openssl rand -base64 32 > key` is the 44 characters of text.
// Call CheckMode as well to warn about loose permissions.
func LoadKey(path string) ([]byte, error) {
	// regfile: a FIFO or device at the path must not block the watcher.
	key, err := regfile.Read(path, maxKeyFile)
	if errors.Is(err, regfile.ErrTooLarge) {
		return nil, fmt.Errorf("token key file %s is longer than %d bytes; is it the right file?", path, maxKeyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	if n := len(key); n > 0 && key[n-1] == '\n' {
		key = key[:n-1]
		if n > 1 && key[n-2] == '\r' {
			key = key[:n-2]
		}
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("token key file %s holds %d bytes, need at least %d (make one with: openssl rand -base64 32)",
			path, len(key), MinKeyLen)
	}
	return key, nil
}

// CheckMode returns an error describing why the permissions of the key file
// at path put the key at risk (other users may read or write it), or nil.
// It is meant for a WARNING, not to refuse the key: the operator may have
// reasons, and failing would open nothing but close the bypass.
func CheckMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	if m := fi.Mode().Perm(); m&0o006 != 0 {
		return fmt.Errorf("token key file %s is accessible to every user (mode %04o); anyone who reads it can issue tokens: chmod o-rwx %s",
			path, uint32(m), path)
	}
	return nil
}
