package config

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineOf finds the line where key k is set, for error messages; 0 when it
// cannot tell (the TOML library does not report positions of unknown keys).
func lineOf(data []byte, k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	want := k[len(k)-1]
	table := strings.Join(k[:len(k)-1], ".")
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			name := strings.Trim(line, "[] \t")
			if i := strings.Index(name, "#"); i >= 0 {
				name = strings.TrimSpace(strings.TrimRight(name[:i], "] \t"))
			}
			if name == strings.Join(k, ".") {
				return n
			}
			cur = name
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			continue
		}
		name := strings.Trim(strings.TrimSpace(line[:eq]), `"'`)
		if name == want && cur == table {
			return n
		}
		if cur == "" && name == strings.Join(k, ".") {
			return n
		}
	}
	return 0
}

// lineOfEntry finds the line of a quoted string value of key k, which may
// be on a later line than the key in a multi-line array; the key's line
// when it cannot tell.
func lineOfEntry(data []byte, k toml.Key, value string) int {
	at := lineOf(data, k)
	if at == 0 {
		return 0
	}
	lines := strings.Split(string(data), "\n")
	for n := at; n <= len(lines); n++ {
		l := lines[n-1]
		if strings.Contains(l, `"`+value+`"`) || strings.Contains(l, `'`+value+`'`) {
			return n
		}
		if n > at && strings.Contains(l, "=") {
			break // the next key: the value was written another way
		}
	}
	return at
}

// LineOf is the line where key k is set in data, 0 when it cannot tell:
// for other packages' messages about this file (config check's
// preflight), so that both name the same line.
func LineOf(data []byte, k toml.Key) int { return lineOf(data, k) }

// LineOfEntry is the line of one entry (value) of the list key k.
func LineOfEntry(data []byte, k toml.Key, value string) int { return lineOfEntry(data, k, value) }
