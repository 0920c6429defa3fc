package authz

import "strings"

// cookieAt returns the value of the first cookie called name that begins at
// or after byte from of a Cookie header, and the offset where the search
// for the next one goes on.
//
// A cookie begins at the start of the header or after a ';', past spaces
// and tabs; its name is followed, past spaces and tabs, by '='. Its value
// runs to the next ';', is trimmed of white space and of one pair of double
// quotes. That is the header split on ';' and each part cut at its first
// '=', as before, but found without looking at every part: the map answers
// under Apache's server-wide lock, and a header of 8190 ';' or of a
// thousand junk cookies must cost one vectorised strings.Index over it, not
// a string operation per part. A candidate that is not a cookie's name
// sends the search to the next ';': no cookie can begin before it.
func cookieAt(header, name string, from int) (value string, next int, ok bool) {
	if name == "" {
		return "", len(header), false
	}
	for from < len(header) {
		// Where one name was just found, the next cookie often begins
		// with it too ("sessionid;sessionid;..."): test that in place,
		// before paying for a call to strings.Index.
		i := from
		if !strings.HasPrefix(header[from:], name) {
			if i = strings.Index(header[from:], name); i < 0 {
				break
			}
			i += from
		}
		end := i + len(name)
		if beginsCookie(header, i) {
			j := end
			for j < len(header) && (header[j] == ' ' || header[j] == '\t') {
				j++
			}
			if j < len(header) && header[j] == '=' {
				v, next := header[j+1:], len(header)
				if k := strings.IndexByte(v, ';'); k >= 0 {
					v, next = v[:k], j+1+k+1
				}
				return unquote(strings.TrimSpace(v)), next, true
			}
		}
		if end < len(header) && header[end] == ';' {
			from = end + 1
			continue
		}
		k := strings.IndexByte(header[end:], ';')
		if k < 0 {
			break
		}
		from = end + k + 1
	}
	return "", len(header), false
}

// beginsCookie reports whether only spaces and tabs stand between the
// previous ';' (or the header's start) and byte i. Its backward walk never
// passes the ';' that the search started after, so the whole search stays
// linear.
func beginsCookie(header string, i int) bool {
	for i--; i >= 0; i-- {
		switch header[i] {
		case ' ', '\t':
		case ';':
			return true
		default:
			return false
		}
	}
	return true
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// lastCookie returns the value of the last cookie called name: the one
// Django itself would read (its cookie parser keeps the last duplicate).
func lastCookie(header, name string) (string, bool) {
	var value string
	found := false
	for from := 0; ; {
		v, next, ok := cookieAt(header, name, from)
		if !ok {
			return value, found
		}
		value, found, from = v, true, next
	}
}
