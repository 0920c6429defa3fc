package session

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// Hints VerifyKey gives, as the operator reads them.
const (
	hintWrong      = "wrong key? copy SECRET_KEY from the application's settings"
	hintQuotes     = "the key is wrapped in quotes, as settings.py writes it: remove them"
	hintAssignment = "the file holds the Python line (SECRET_KEY = '…'): keep only the value, without quotes"
	hintLiteral    = "the key is written as a Python string literal: remove the quotes and write each \\\\ as \\"
	hintQuotedBad  = "the key is wrapped in quotes: remove them, and check that it is the application's SECRET_KEY"
)

// checkVerifyKey reads the sessions a real Django made in database with
// key files as operators write them, right and wrong.
func checkVerifyKey(t *testing.T, database string) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		keys []string
		// want: every row verifies; failed, and the hint's start.
		all    bool
		failed bool
		hint   string
	}{
		{"key and fallback", []string{djangoSecret, djangoOldSecret}, true, false, ""},
		{"key alone", []string{djangoSecret}, false, false, ""},
		{"wrong key", []string{"not-the-application-key-0123456789abcdefghijklmn"}, false, true, hintWrong},
		{"single quotes", []string{"'" + djangoSecret + "'"}, false, true, hintQuotes},
		{"double quotes", []string{`"` + djangoSecret + `"`, djangoOldSecret}, false, true, hintQuotes},
		{"python line", []string{"SECRET_KEY = '" + djangoSecret + "'  # from settings.py"}, false, true, hintAssignment},
		{"wrong key in quotes", []string{"'not-the-application-key-0123456789abcdefghijklmn'"}, false, true, hintQuotedBad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(ctx, Options{Database: database, Secrets: secretFile(t, tc.keys...), LookupTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			k, err := c.VerifyKey(ctx, 20)
			if err != nil {
				t.Fatal(err)
			}
			// mksessions.py leaves 14 sessions in the table, one signed
			// with the old key.
			if k.Sessions != 14 || k.Unreadable != 0 {
				t.Fatalf("VerifyKey = %+v, want 14 readable sessions", k)
			}
			if k.Failed() != tc.failed || (k.Verified == k.Sessions) != tc.all || !strings.HasPrefix(k.Hint, tc.hint) || (tc.hint == "") != (k.Hint == "") {
				t.Errorf("VerifyKey = %+v; want failed %v, all verified %v, hint %q", k, tc.failed, tc.all, tc.hint)
			}
			if !tc.failed && k.Current != 13 {
				t.Errorf("Current = %d, want 13 (every session but the one signed with the old key)", k.Current)
			}
		})
	}
	t.Run("n newest", func(t *testing.T) {
		c, err := Open(ctx, Options{Database: database, Secrets: secretFile(t, djangoSecret)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if k, err := c.VerifyKey(ctx, 3); err != nil || k.Sessions != 3 || k.Failed() {
			t.Errorf("VerifyKey(3) = %+v, %v", k, err)
		}
	})
	t.Run("nothing to check", func(t *testing.T) {
		for _, o := range []Options{
			{Database: database},
			{Database: database, Store: StoreSignedCookies, Secrets: secretFile(t, "wrong-key-0123456789")},
		} {
			c, err := Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			k, err := c.VerifyKey(ctx, 20)
			c.Close()
			if err != nil || k != (KeyCheck{}) || k.Failed() {
				t.Errorf("%s, %d secrets: VerifyKey = %+v, %v; want nothing checked", o.Store, len(o.Secrets), k, err)
			}
		}
	})
	t.Run("no such table", func(t *testing.T) {
		c, err := Open(ctx, Options{Database: database, SessionTable: "no_such_sessions", Secrets: secretFile(t, djangoSecret)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.VerifyKey(ctx, 20); err == nil || !strings.Contains(err.Error(), "no_such_sessions") {
			t.Errorf("VerifyKey = %v, want an error naming the table", err)
		}
	})
}

func TestVerifyKeyDjangoSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "app.sqlite3")
	makeSessions(t, "sqlite:"+path)
	checkVerifyKey(t, "sqlite:"+path)
}

func TestVerifyKeyDjangoPostgres(t *testing.T) {
	t.Parallel()
	pg := testsvc.NewPostgres(t)
	db := pg.CreateDatabase(t, "djangokeys")
	makeSessions(t, db)
	checkVerifyKey(t, db)
}

// TestCheckKey covers what a real Django does not write: an empty table,
// rows that are not session data, a key with backslashes in settings.py.
func TestCheckKey(t *testing.T) {
	key := `abc\def'ghi`
	now := time.Unix(1_700_000_000, 0)
	signed := sign(b64([]byte(`{"_auth_user_id":"1"}`)), SessionSalt, []byte(key), now)
	legacyJSON := `{"_auth_user_id":"1"}`
	legacy := base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(
		SaltedHMAC(sha1.New, legacySessionSalt, []byte(legacyJSON), []byte(key))) + ":" + legacyJSON))
	for _, tc := range []struct {
		name   string
		rows   []string
		key    string
		failed bool
		hint   string
	}{
		{"no sessions", nil, "wrong", false, ""},
		{"only unreadable rows", []string{"", "not base64!", "a:b"}, "wrong", false, ""},
		{"signed", []string{signed, "junk"}, key, false, ""},
		{"legacy", []string{legacy}, key, false, ""},
		{"legacy, wrong key", []string{legacy}, "wrong", true, hintWrong},
		{"python literal", []string{signed}, `'abc\\def\'ghi'`, true, hintLiteral},
		{"python literal, legacy", []string{legacy}, `"abc\\def'ghi"`, true, hintLiteral},
		{"triple quotes", []string{signed}, `'''abc\def'ghi'''`, true, hintQuotes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := CheckKey(tc.rows, [][]byte{[]byte(tc.key)})
			if k.Failed() != tc.failed || !strings.HasPrefix(k.Hint, tc.hint) || (tc.hint == "") != (k.Hint == "") {
				t.Errorf("CheckKey = %+v; want failed %v, hint %q", k, tc.failed, tc.hint)
			}
			if strings.Contains(k.Hint, "abc") {
				t.Errorf("hint %q holds the key", k.Hint)
			}
		})
	}
}
