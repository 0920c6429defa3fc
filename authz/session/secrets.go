package session

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/maintgate/maintgate/internal/regfile"
)

// LoadSecrets reads Django secret keys from a file: one key a line, the
// first is SECRET_KEY, the others are SECRET_KEY_FALLBACKS, newest first.
// Leading and trailing spaces and tabs are trimmed. Blank lines are
// skipped, and so are comments: a line that is "#" alone or starts with "#"
// and a space or tab. A line like "#x9k…" is a key, not a comment: Django's
// get_random_secret_key draws from a-z0-9!@#$%^&*(-_=+), so one key in 50
// starts with '#', and dropping it would silently turn every superuser
// away. Errors name the file, never a key.
//
// Keys are used as the bytes of the line, as Django's
// force_bytes(SECRET_KEY) encodes a str key (UTF-8).
func LoadSecrets(path string) ([][]byte, error) {
	b, err := regfile.Read(path, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := bytes.Trim(sc.Bytes(), " \t\r")
		if isComment(line) {
			continue
		}
		keys = append(keys, bytes.Clone(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("secret key file %s: no key in it (one key a line, SECRET_KEY first)", path)
	}
	return keys, nil
}

func isComment(line []byte) bool {
	return len(line) == 0 ||
		line[0] == '#' && (len(line) == 1 || line[1] == ' ' || line[1] == '\t')
}
