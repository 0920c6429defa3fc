package session

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// KeyCheck is what VerifyKey found: how many of the newest sessions the
// secret key file verifies, and what is likely wrong with the file.
type KeyCheck struct {
	// Sessions is how many rows were read; Unreadable of them hold no
	// session data maintgate can check (neither format); Verified have a
	// signature one of the secrets verifies; Current of those verify with
	// the first secret (SECRET_KEY) itself.
	Sessions, Unreadable, Verified, Current int
	// Hint says what is wrong with the key file, as an operator can act
	// on it ("the key is wrapped in quotes: remove them"): set when rows
	// were checked and none verified, or when a copying mistake's fix
	// makes more of them verify. It never holds a key.
	Hint string
}

// Failed reports whether the key file is wrong: rows that could be
// checked were read and none verified, or the file holds a copying
// mistake whose fix makes more of them verify. No sessions (nobody has
// logged in yet) is not a failure: there is nothing to tell a right key
// from a wrong one.
func (k KeyCheck) Failed() bool { return k.Hint != "" }

// VerifyKey reads the session_data of the n newest rows of the session
// table (by expire_date, newest first) and checks their signatures with
// the Checker's secrets, for `maintgate config check`: a wrong key in
// secret_key_file makes every session fail as "bad signature" while the
// map runs, and nothing else tells the operator why superusers are sent
// to the maintenance page. With no secrets, or the signed_cookies store
// (no sessions in the database), there is nothing to check: it returns
// a zero KeyCheck.
func (c *Checker) VerifyKey(ctx context.Context, n int) (KeyCheck, error) {
	if len(c.secrets) == 0 || c.o.Store != StoreDjango {
		return KeyCheck{}, nil
	}
	lister, ok := c.store.(newestLister)
	if !ok {
		return KeyCheck{}, errors.New("session store cannot list sessions")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.QueryTimeout)
		defer cancel()
	}
	rows, err := lister.newest(ctx, n)
	if err != nil {
		return KeyCheck{}, fmt.Errorf("session database: newest sessions of %s: %w", c.o.SessionTable, err)
	}
	return CheckKey(rows, c.secrets), nil
}

// CheckKey checks the signatures of session_data values rows with
// secrets (SECRET_KEY first, as LoadSecrets reads them). It also tries
// the secrets as the usual copying mistakes would have left them: a fix
// that makes more rows verify, or more with SECRET_KEY itself, names the
// mistake in the Hint, even when some rows verify with a fallback key.
func CheckKey(rows []string, secrets [][]byte) KeyCheck {
	k := countVerified(rows, secrets)
	for _, m := range keyMistakes {
		fixed, changed := m.apply(secrets)
		if !changed {
			continue
		}
		if f := countVerified(rows, fixed); f.Verified > k.Verified || f.Current > k.Current {
			k.Hint = m.hint
			return k
		}
	}
	if k.Verified == 0 && k.Sessions > k.Unreadable {
		k.Hint = "wrong key? copy SECRET_KEY from the application's settings (the value alone, without quotes) to the file's first line, older keys (SECRET_KEY_FALLBACKS) after it"
		if _, quoted := unquote(string(secrets[0])); quoted {
			k.Hint = "the key is wrapped in quotes: remove them, and check that it is the application's SECRET_KEY"
		}
	}
	return k
}

func countVerified(rows []string, secrets [][]byte) KeyCheck {
	k := KeyCheck{Sessions: len(rows)}
	for _, data := range rows {
		switch verifyRow(data, secrets) {
		case errMalformedRow:
			k.Unreadable++
		case nil:
			k.Verified++
			if verifyRow(data, secrets[:1]) == nil {
				k.Current++
			}
		}
	}
	return k
}

// errMalformedRow marks a row that holds no checkable session data.
var errMalformedRow = errors.New("not session data")

// verifyRow is nil when secrets verify the row's signature, or its
// legacy hash, ErrBadSignature when they do not.
func verifyRow(data string, secrets [][]byte) error {
	if strings.IndexByte(data, ':') >= 0 {
		_, _, err := Unsign(data, SessionSalt, secrets)
		if errors.Is(err, ErrMalformed) {
			return errMalformedRow
		}
		return err
	}
	// The legacy format: base64 of "hash:json". DecodeLegacy checks the
	// hash before it reads the JSON.
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil || bytes.IndexByte(raw, ':') < 0 {
		return errMalformedRow
	}
	if _, err := DecodeLegacy(data, secrets); errors.Is(err, ErrBadSignature) {
		return err
	}
	return nil
}

// keyMistake is one way an operator miscopies SECRET_KEY into the key
// file: fix is the key as it should read, or ok false when the mistake
// does not apply to this key.
type keyMistake struct {
	hint string
	fix  func(key string) (string, bool)
}

var keyMistakes = []keyMistake{
	{"the file holds the Python line (SECRET_KEY = '…'): keep only the value, without quotes", pythonAssignment},
	{"the key is wrapped in quotes, as settings.py writes it: remove them", unquote},
	{"the key is written as a Python string literal: remove the quotes and write each \\\\ as \\", pythonLiteral},
}

// apply is secrets with the mistake fixed, and whether any changed.
func (m keyMistake) apply(secrets [][]byte) ([][]byte, bool) {
	fixed := make([][]byte, len(secrets))
	changed := false
	for i, s := range secrets {
		fixed[i] = s
		if f, ok := m.fix(string(s)); ok {
			fixed[i], changed = []byte(f), true
		}
	}
	return fixed, changed
}

// unquote strips one pair of matching quotes, Python's ' or ", or a
// triple of them.
func unquote(s string) (string, bool) {
	for _, q := range []string{`"""`, `'''`, `"`, `'`} {
		if len(s) >= 2*len(q) && strings.HasPrefix(s, q) && strings.HasSuffix(s, q) {
			return s[len(q) : len(s)-len(q)], true
		}
	}
	return s, false
}

// pythonLiteral reads a quoted Python string with the backslash escapes
// a key can hold (\\, \', \"), the way settings.py holds it.
func pythonLiteral(s string) (string, bool) {
	inner, ok := unquote(s)
	if !ok || strings.IndexByte(inner, '\\') < 0 {
		return s, false
	}
	return unescape(inner), true
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`\'"`, s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pythonAssignment reads `SECRET_KEY = '…'`, with an optional comment
// after it, as the quoted value.
func pythonAssignment(s string) (string, bool) {
	name, value, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) != "SECRET_KEY" {
		return s, false
	}
	value = strings.TrimSpace(value)
	if value == "" || (value[0] != '\'' && value[0] != '"') {
		return value, true
	}
	// The literal ends at the first unescaped quote like the opening one.
	for i := 1; i < len(value); i++ {
		switch value[i] {
		case '\\':
			i++
		case value[0]:
			return unescape(value[1:i]), true
		}
	}
	return value, true
}

// newestLister is a store that can read the newest sessions; both real
// stores can. Kept out of the store interface: only config check needs
// it, and test stores need not implement it.
type newestLister interface {
	newest(ctx context.Context, n int) ([]string, error)
}

func newestQuery(d dialect, table string, n int) (string, error) {
	t, err := quoteTable(d, "session_table", table)
	if err != nil {
		return "", err
	}
	return "SELECT " + d.quote("session_data") + " FROM " + t + " ORDER BY " + d.quote("expire_date") +
		" DESC LIMIT " + strconv.Itoa(n), nil
}

func (s *sqlStore) newest(ctx context.Context, n int) ([]string, error) {
	q, err := newestQuery(s.d, s.q.sessionTable, n)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var data any
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		out = append(out, toString(data))
	}
	return out, rows.Err()
}

func (p *pgStore) newest(ctx context.Context, n int) ([]string, error) {
	q, err := newestQuery(dialectPostgres, p.q.sessionTable, n)
	if err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
