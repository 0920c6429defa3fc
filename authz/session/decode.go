package session

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// Session is what maintgate reads from a Django session: who is logged
// in, and the proof that goes with it.
type Session struct {
	UserID   string    // _auth_user_id; empty when nobody is logged in
	Backend  string    // _auth_user_backend
	AuthHash string    // _auth_user_hash
	SignedAt time.Time // when it was signed (signed format); zero for legacy
	Legacy   bool      // the pre-3.1 "hash:json" format
}

// maxSessionData bounds decoded session data: zlib can expand a 4 KB
// cookie a thousandfold, and nothing maintgate needs is that big.
const maxSessionData = 8 << 20

// DecodeSessionData decodes a django_session.session_data value the way
// Django 3.1/3.2 does: the signed format of 3.1+ (payload:timestamp:signature,
// the payload urlsafe base64 of JSON, zlib-compressed when it starts with
// '.'), or else the legacy format (base64 of "sha1hexhash:json").
//
// The signature (or the legacy hash) is checked against every secret,
// SHA-256 and SHA-1 forms alike; with no secrets it is not checked (trust
// the database). The timestamp of a database session is not checked: its
// expiry is expire_date.
func DecodeSessionData(data string, secrets [][]byte) (Session, error) {
	// The signed format has two ':'; standard base64 has none.
	if strings.IndexByte(data, ':') >= 0 {
		return DecodeSigned(data, SessionSalt, secrets)
	}
	return DecodeLegacy(data, secrets)
}

// DecodeSigned decodes a value made by Django's signing.dumps with salt
// (session_data of 3.1+, or a signed_cookies session cookie with
// SignedCookiesSalt), after Unsign has verified it.
func DecodeSigned(signed, salt string, secrets [][]byte) (Session, error) {
	payload, at, err := Unsign(signed, salt, secrets)
	if err != nil {
		return Session{}, err
	}
	compressed := strings.HasPrefix(payload, ".")
	if compressed {
		payload = payload[1:]
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		// Django's b64_decode adds the padding back before decoding; tolerate
		// a payload that kept it.
		if raw, err = base64.URLEncoding.DecodeString(payload); err != nil {
			return Session{}, ErrMalformed
		}
	}
	if compressed {
		if raw, err = inflate(raw); err != nil {
			return Session{}, err
		}
	}
	s, err := parsePayload(raw)
	s.SignedAt = at
	return s, err
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, ErrMalformed
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxSessionData+1))
	if err != nil {
		return nil, ErrMalformed
	}
	if len(out) > maxSessionData {
		return nil, ErrTooLarge
	}
	return out, nil
}

// DecodeLegacy decodes the session format of Django before 3.1, which
// 3.1/3.2 still read (and write when DEFAULT_HASHING_ALGORITHM = 'sha1'):
// standard base64 of "hexhash:json", hexhash being
// salted_hmac("django.contrib.sessionsSessionStore", json, secret, sha1).
func DecodeLegacy(data string, secrets [][]byte) (Session, error) {
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return Session{}, ErrMalformed
	}
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return Session{}, ErrMalformed
	}
	sum, serialized := raw[:i], raw[i+1:]
	if len(secrets) > 0 {
		ok := 0
		var want [2 * sha1.Size]byte
		for _, secret := range secrets {
			hex.Encode(want[:], SaltedHMAC(sha1.New, legacySessionSalt, serialized, secret))
			ok |= subtle.ConstantTimeCompare(want[:], sum)
		}
		if ok != 1 {
			return Session{}, ErrBadSignature
		}
	}
	s, err := parsePayload(serialized)
	s.Legacy = true
	return s, err
}

// parsePayload reads the three keys maintgate needs from the session's
// JSON. Keys match exactly (encoding/json's struct decoding would also
// take "_AUTH_USER_ID"), and a repeated key keeps its last value, as
// Python's json module does.
func parsePayload(b []byte) (Session, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		if json.Valid(b) {
			return Session{}, ErrMalformed // JSON, but not an object
		}
		return Session{}, ErrNotJSON
	}
	if m == nil {
		return Session{}, ErrMalformed // null
	}
	var s Session
	s.UserID = jsonID(m["_auth_user_id"])
	s.Backend = jsonString(m["_auth_user_backend"])
	s.AuthHash = jsonString(m["_auth_user_hash"])
	return s, nil
}

// jsonID reads _auth_user_id: a string ("1", or a UUID for a custom user
// model), or a number, which Django's pk.to_python also accepts.
func jsonID(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	if v[0] == '"' {
		return jsonString(v)
	}
	if v[0] == '-' || v[0] >= '0' && v[0] <= '9' {
		return string(v)
	}
	return ""
}

func jsonString(v json.RawMessage) string {
	var s string
	if len(v) == 0 || json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// VerifyAuthHash reports whether sessionHash, a session's _auth_user_hash,
// matches the user's current password hash (auth_user.password) under one
// of the secrets, as Django's get_user checks it: the hex
// salted_hmac("django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
// password, secret) in its SHA-256 form (3.1+) or SHA-1 form (before 3.1,
// still accepted by 3.1/3.2). Every secret is tried, as Django 4.1.8+ tries
// SECRET_KEY_FALLBACKS. An empty sessionHash never matches.
//
// The comparison is constant time; all candidates are computed.
func VerifyAuthHash(sessionHash, passwordHash string, secrets [][]byte) bool {
	if sessionHash == "" {
		return false
	}
	ok := 0
	var want [64]byte // hex of a SHA-256 digest
	for _, secret := range secrets {
		for _, h := range hashes {
			mac := SaltedHMAC(h, authHashSalt, []byte(passwordHash), secret)
			n := hex.Encode(want[:], mac)
			ok |= subtle.ConstantTimeCompare(want[:n], []byte(sessionHash))
		}
	}
	return ok == 1
}

// SessionAuthHash is the _auth_user_hash Django 3.1+ stores for a user
// whose auth_user.password is passwordHash, under secret (SHA-256 form).
func SessionAuthHash(passwordHash string, secret []byte) string {
	return hex.EncodeToString(SaltedHMAC(sha256.New, authHashSalt, []byte(passwordHash), secret))
}

// ValidSessionKey reports whether s can be a key of Django's database
// session backends: 8 to 40 characters (Django rejects shorter keys; the
// column is varchar(40)) of a-z and 0-9 (what Django generates: 32 of
// them). A cookie that fails this makes no query.
func ValidSessionKey(s string) bool {
	if len(s) < 8 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// maxSignedCookie bounds a signed_cookies session cookie. Browsers keep
// cookies up to 4096 bytes; Apache's default header line limit is 8190.
const maxSignedCookie = 8190

// PlausibleSignedCookie reports whether s can be a session of Django's
// signed_cookies backend: at most 8190 bytes of the urlsafe base64
// alphabet, '.' and ':', with at least two ':'. Signature checks come
// after this cheap one.
func PlausibleSignedCookie(s string) bool {
	if len(s) < 5 || len(s) > maxSignedCookie {
		return false
	}
	colons := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.':
		case c == ':':
			colons++
		default:
			return false
		}
	}
	return colons >= 2
}
