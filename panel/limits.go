package panel

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
)

// limits.go: how much of a request the panel reads. Go's own limit for a
// form is 10 MB and nothing bounds a field; a message of a megabyte made
// a flag file the map could not read (maintenance on, no window), and a
// form the panel could not parse saved an empty whitelist. So every body
// is bounded, a body over the bound is a 413, and a form is read only when
// it is the urlencoded form the page sends.

const (
	// maxBody bounds a JSON body and a form: a window's fields, a check,
	// a token request. control.On bounds the message itself (4096 bytes).
	maxBody = 64 << 10
	// maxWhitelistText is the panel's read limit for the whitelist file:
	// a longer text would be written and then never read back (every
	// later GET and PUT would fail).
	maxWhitelistText = 1 << 20
	// maxWhitelistBody bounds a whitelist body: the text as a form
	// encodes it (a byte can take three) or as JSON escapes it.
	maxWhitelistBody = 3*maxWhitelistText + 4096
)

// bodyStatus is the status for an error reading a body: 413 when it was
// over the bound, else 400.
func bodyStatus(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// bodyError says what was wrong with a body, in words.
func bodyError(err error) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Sprintf("body: over %d bytes; nothing was changed", mbe.Limit)
	}
	return fmt.Sprintf("body: %v; nothing was changed", err)
}

// parseForm reads the urlencoded form of r, at most limit bytes, into
// r.PostForm. Anything else (multipart, a bad escape, a body too large)
// answers a page with the error and false: a form read wrongly must never
// be taken as a form of empty fields.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, rc *reqCtx, limit int64) bool {
	code, msg := 0, ""
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		code = http.StatusUnsupportedMediaType
		msg = fmt.Sprintf("body: Content-Type %q: the panel's forms are application/x-www-form-urlencoded (use the JSON API for scripts); nothing was changed", r.Header.Get("Content-Type"))
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := r.ParseForm(); err != nil {
			code, msg = bodyStatus(err), bodyError(err)
		}
	}
	if code == 0 {
		return true
	}
	d := s.data(rc)
	d.Error = msg
	s.render(w, code, "index", d)
	return false
}
