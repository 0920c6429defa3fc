package session

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"time"
)

// Salts Django uses, from its source (3.2 and later).
const (
	// SessionSalt signs session_data of the db, cached_db, cache and file
	// backends: "django.contrib.sessions." + SessionStore.__qualname__.
	SessionSalt = "django.contrib.sessions.SessionStore"
	// SignedCookiesSalt signs the cookie of the signed_cookies backend.
	SignedCookiesSalt = "django.contrib.sessions.backends.signed_cookies"
	// legacySessionSalt is the key salt of the pre-3.1 session hash:
	// "django.contrib.sessions" + SessionStore.__name__, no dot.
	legacySessionSalt = "django.contrib.sessionsSessionStore"
	// authHashSalt is the key salt of _auth_user_hash.
	authHashSalt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
)

// Errors from decoding and verifying Django data. Reasons in a Verdict
// are derived from them.
var (
	ErrBadSignature = errors.New("bad signature")
	ErrMalformed    = errors.New("malformed session data")
	ErrNotJSON      = errors.New("session data is not JSON (only Django's default JSONSerializer is supported)")
	ErrTooLarge     = errors.New("session data too large")
	ErrExpired      = errors.New("session expired")
)

// hashes are the algorithms Django 3.1/3.2 accept for a signature or an
// _auth_user_hash, in the order tried: SHA-256 (the default since 3.1), then
// SHA-1 (DEFAULT_HASHING_ALGORITHM = 'sha1', and every signature before 3.1).
var hashes = [...]func() hash.Hash{sha256.New, sha1.New}

// SaltedHMAC is Django's django.utils.crypto.salted_hmac: an HMAC of value
// with h, keyed by h(keySalt + secret). It returns the raw digest.
func SaltedHMAC(h func() hash.Hash, keySalt string, value, secret []byte) []byte {
	kh := h()
	kh.Write([]byte(keySalt))
	kh.Write(secret)
	m := hmac.New(h, kh.Sum(nil))
	m.Write(value)
	return m.Sum(nil)
}

// Unsign verifies a value made by Django's TimestampSigner with salt,
// "payload:timestamp:signature", against each secret in turn, with an
// HMAC-SHA256 signature and then an HMAC-SHA1 one, as Django 3.1+ does
// (4.1+ also tries SECRET_KEY_FALLBACKS; here those are the secrets after
// the first). It returns the payload and the signing time.
//
// With no secrets, the signature is not checked: the caller trusts where
// the value came from (the application's database).
//
// Signatures are compared in constant time, as encoded strings, the way
// Django compares them.
func Unsign(signed, salt string, secrets [][]byte) (payload string, signedAt time.Time, err error) {
	i := strings.LastIndexByte(signed, ':')
	if i < 0 {
		return "", time.Time{}, ErrMalformed
	}
	value, sig := signed[:i], signed[i+1:]
	j := strings.LastIndexByte(value, ':')
	if j < 0 {
		return "", time.Time{}, ErrMalformed
	}
	if len(secrets) > 0 && !verifySignature(value, sig, salt, secrets) {
		return "", time.Time{}, ErrBadSignature
	}
	ts, ok := base62Decode(value[j+1:])
	if !ok {
		return "", time.Time{}, ErrMalformed
	}
	return value[:j], time.Unix(ts, 0), nil
}

func verifySignature(value, sig, salt string, secrets [][]byte) bool {
	keySalt := salt + "signer"
	var enc [64]byte // holds a SHA-256 digest in unpadded base64 (43)
	ok := 0
	for _, secret := range secrets {
		for _, h := range hashes {
			mac := SaltedHMAC(h, keySalt, []byte(value), secret)
			n := base64.RawURLEncoding.EncodedLen(len(mac))
			base64.RawURLEncoding.Encode(enc[:n], mac)
			// Every candidate is computed and compared: the time taken does
			// not tell which secret, or whether any, matched.
			ok |= subtle.ConstantTimeCompare(enc[:n], []byte(sig))
		}
	}
	return ok == 1
}

const base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Decode reads Django's base62 timestamp (most significant digit
// first, an optional leading '-', as django.utils.baseconv reads it). It
// refuses empty input, other characters and values beyond int64.
func base62Decode(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if s == "" || len(s) > 11 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base62Alphabet, s[i])
		if d < 0 {
			return 0, false
		}
		if n > (1<<63-1-int64(d))/62 {
			return 0, false
		}
		n = n*62 + int64(d)
	}
	if neg {
		n = -n
	}
	return n, true
}

// base62Encode is the inverse of base62Decode, for tests and signing.
func base62Encode(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [11]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = base62Alphabet[n%62]
		n /= 62
	}
	return string(b[i:])
}

// sign makes what Django's TimestampSigner(key=secret, salt=salt).sign
// makes, with HMAC-SHA256: "value:timestamp:signature". Tests use it to
// build data Django would accept.
func sign(value, salt string, secret []byte, at time.Time) string {
	v := value + ":" + base62Encode(at.Unix())
	mac := SaltedHMAC(sha256.New, salt+"signer", []byte(v), secret)
	return v + ":" + base64.RawURLEncoding.EncodeToString(mac)
}
