package session

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/maintgate/maintgate/authz"
)

// ErrUnusablePassword: the user has no password Django would accept
// (set_unusable_password, or empty).
var ErrUnusablePassword = errors.New("user has an unusable password")

// ErrUnsupportedHasher is wrapped by VerifyPassword's error for a hash
// maintgate does not verify (argon2, bcrypt, scrypt, md5, …); the error
// names the algorithm.
var ErrUnsupportedHasher = errors.New("password hash algorithm not supported (maintgate verifies pbkdf2_sha256 and pbkdf2_sha1)")

// maxIterations refuses absurd PBKDF2 work factors (Django 5.2 uses
// 1,000,000) rather than spending minutes on one password.
const maxIterations = 50_000_000

// VerifyPassword checks password against encoded, a Django
// auth_user.password value "pbkdf2_sha256$iterations$salt$base64hash" (or
// pbkdf2_sha1), as Django's PBKDF2 hashers do: derive, re-encode, and
// compare the whole encoded string in constant time.
//
// Other algorithms return an error wrapping ErrUnsupportedHasher that
// names the algorithm; an unusable password returns ErrUnusablePassword.
func VerifyPassword(password, encoded string) (bool, error) {
	if encoded == "" || strings.HasPrefix(encoded, "!") {
		return false, ErrUnusablePassword
	}
	algorithm, rest, ok := strings.Cut(encoded, "$")
	if !ok {
		return false, fmt.Errorf("%w: unrecognised hash format", ErrUnsupportedHasher)
	}
	var h func() hash.Hash
	switch algorithm {
	case "pbkdf2_sha256":
		h = sha256.New
	case "pbkdf2_sha1":
		h = sha1.New
	default:
		return false, fmt.Errorf("%w: %q", ErrUnsupportedHasher, algorithm)
	}
	parts := strings.SplitN(rest, "$", 3)
	if len(parts) != 3 {
		return false, fmt.Errorf("malformed %s hash", algorithm)
	}
	iterations, err := strconv.Atoi(parts[0])
	if err != nil || iterations < 1 || iterations > maxIterations {
		return false, fmt.Errorf("malformed %s hash: iterations %q", algorithm, parts[0])
	}
	lastIterations.Store(int64(iterations))
	got := pbkdf2Encode(algorithm, h, password, parts[1], iterations)
	return subtle.ConstantTimeCompare([]byte(got), []byte(encoded)) == 1, nil
}

func pbkdf2Encode(algorithm string, h func() hash.Hash, password, salt string, iterations int) string {
	dk, err := pbkdf2.Key(h, password, []byte(salt), iterations, h().Size())
	if err != nil { // only for key lengths out of range: not reachable
		return ""
	}
	return algorithm + "$" + strconv.Itoa(iterations) + "$" + salt + "$" + base64.StdEncoding.EncodeToString(dk)
}

// lastIterations is the work factor of the last hash verified, so that
// the dummy derivation for an unknown user costs about as much as a real
// one (Django runs its default hasher once in that case, for the same
// reason: the time taken must not tell which user names exist).
var lastIterations atomic.Int64

func dummyPasswordWork(password string) {
	n := int(lastIterations.Load())
	if n <= 0 {
		n = 260000 // Django 3.2's default
	}
	pbkdf2Encode("pbkdf2_sha256", sha256.New, password, "maintgatedummysalt", n)
}

// makePassword encodes password as Django's PBKDF2PasswordHasher would
// with this salt and work factor, for tests and fixtures.
func makePassword(password, salt string, iterations int) string {
	return pbkdf2Encode("pbkdf2_sha256", sha256.New, password, salt, iterations)
}

// CheckPassword answers whether username and password are those of an
// active user that Options.Allow lets through (the same rules as a
// session's), for the mod_authnz_external checker. The password is
// verified as Django's PBKDF2 hashers do (pbkdf2_sha256, pbkdf2_sha1), in
// constant time; any other algorithm is refused with a Reason naming it.
// An unknown user costs a password derivation too, so the time taken does
// not tell which user names exist. It uses no cache and no rate limit.
//
// The error is set only when the database failed.
func (c *Checker) CheckPassword(ctx context.Context, username, password string) (authz.Verdict, error) {
	if username == "" {
		return authz.Verdict{Reason: ReasonNoUser}, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.QueryTimeout)
		defer cancel()
	}
	u, err := c.store.userByName(ctx, username)
	if errors.Is(err, errNotFound) {
		dummyPasswordWork(password)
		return authz.Verdict{Reason: ReasonNoUser}, nil
	}
	if err != nil {
		r := c.failed(ctx, err)
		return r.v, fmt.Errorf("session database: %w", err)
	}
	ok, err := VerifyPassword(password, u.Password)
	v := authz.Verdict{UserID: u.ID}
	switch {
	case err != nil:
		v.Reason = err.Error()
	case !ok:
		v.Reason = ReasonWrongPassword
	default:
		// The same allow rules as a session: a QA user whose group is
		// allowed passes with their password too.
		reason, pass, err := c.admit(ctx, u.ID, u)
		if err != nil {
			r := c.failed(ctx, err)
			r.v.UserID = u.ID
			return r.v, fmt.Errorf("session database: %w", err)
		}
		v.Pass, v.Reason = pass, reason
	}
	return v, nil
}
