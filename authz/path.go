package authz

import (
	"path"
	"strings"
	"time"
)

// pathRule applies rule 2 of DESIGN.md: allow_paths, then admin_paths.
//
// With ServletPaths, a path that holds a ';' or a '\' is allowed only when
// every way a backend may read it is allowed: as written, and with
// ";parameters" and backslashes resolved as Tomcat, Jetty or IIS resolve
// them before they remove dot segments. "/static/..;/de/map/" is
// "/static/..;/de/map/" to Django but "/de/map/" to Tomcat; no single reading
// is right for every container, so none of them may reach a closed path.
//
// The window's --allow-path prefixes count like allow_paths (reason
// AllowedPath, with WindowPathDetail), on the same readings.
func (p *Policy) pathRule(raw string, w *Window, now time.Time) (Reason, string, bool) {
	reason, detail, ok := p.matchPath(CleanPath(raw), w, now)
	if !ok || !p.ServletPaths || (strings.IndexByte(raw, ';') < 0 && strings.IndexByte(raw, '\\') < 0) {
		return reason, detail, ok
	}
	for _, rd := range servletReadings {
		if _, _, ok := p.matchPath(CleanPath(rd.read(raw)), w, now); !ok {
			return 0, "", false
		}
	}
	return reason, detail, true
}

// WindowPathDetail is the Detail of a decision allowed by a prefix of
// `maintgate on --allow-path`.
const WindowPathDetail = "path allowed for this maintenance window (maintgate on --allow-path)"

func (p *Policy) matchPath(clean string, w *Window, now time.Time) (Reason, string, bool) {
	if MatchPrefix(p.AllowPaths, clean) {
		return AllowedPath, "", true
	}
	if w.pathOpen(clean, now) {
		return AllowedPath, WindowPathDetail, true
	}
	if MatchAdmin(p.AdminPaths, p.Languages, clean) {
		return AdminPath, "", true
	}
	return 0, "", false
}

// servletReading is one way a servlet container or IIS reads a path.
// params: ";..." is cut from each segment (Tomcat, Jetty: path parameters
// such as ";jsessionid=..."). backslash: '\' is read as '/' never (0),
// before the parameters are cut (1, so a '\' ends a parameter), or after
// (2, so a '\' inside a parameter goes with it: Tomcat with
// ALLOW_BACKSLASH cuts parameters first).
type servletReading struct {
	params    bool
	backslash uint8
}

var servletReadings = [...]servletReading{
	{params: true},                // Tomcat, Jetty
	{params: true, backslash: 2},  // Tomcat with ALLOW_BACKSLASH
	{params: true, backslash: 1},  // a proxy or container that turns '\' first
	{params: false, backslash: 1}, // IIS: '\' is '/', ';' is a plain character
}

func (rd servletReading) read(p string) string {
	b := make([]byte, 0, len(p))
	inParam := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && rd.backslash == 1 {
			c = '/'
		}
		if c == '/' {
			inParam = false
		}
		if inParam {
			continue
		}
		if c == ';' && rd.params {
			inParam = true
			continue
		}
		if c == '\\' && rd.backslash == 2 {
			c = '/'
		}
		b = append(b, c)
	}
	return string(b)
}

// CleanPath removes dot segments and repeated slashes, so that
// "/static/../de/map/" is judged as "/de/map/". Apache already does this to
// REQUEST_URI; maintgate does it again because other writers may not.
// It does not decode percent escapes a second time: a "%2e" that survives
// Apache's decoding is a literal in the path the backend sees.
func CleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	if !needsClean(p) {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func needsClean(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '/':
			if i+1 < len(p) && p[i+1] == '/' {
				return true
			}
		case '.':
			if p[i-1] == '/' && (i+1 == len(p) || p[i+1] == '/' || (p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/'))) {
				return true
			}
		}
	}
	return false
}

// MatchPrefix reports whether p lies under one of prefixes, on a segment
// boundary: "/admin/" matches "/admin" and "/admin/x", not "/administrator".
// A prefix without a trailing slash ("/robots.txt") matches itself and what
// lies below it.
func MatchPrefix(prefixes []string, p string) bool {
	for _, pre := range prefixes {
		if underPrefix(pre, p) {
			return true
		}
	}
	return false
}

func underPrefix(pre, p string) bool {
	base := strings.TrimSuffix(pre, "/")
	if base == "" {
		return true // "/" covers everything
	}
	if !strings.HasPrefix(p, base) {
		return false
	}
	return len(p) == len(base) || p[len(base)] == '/'
}

// MatchAdmin is MatchPrefix for admin prefixes, which Django's i18n_patterns
// may also put behind a language prefix: /de/admin/, /pt-br/admin/. A
// language prefix is one of languages, exactly: a segment that merely looks
// like a language ("/api/", "/app/", "/DE/") is a route of the site, and
// "/api/admin/" may be an API's admin that must stay closed.
func MatchAdmin(prefixes []string, languages Languages, p string) bool {
	if MatchPrefix(prefixes, p) {
		return true
	}
	if len(languages) == 0 || len(p) < 2 {
		return false
	}
	end := strings.IndexByte(p[1:], '/')
	if end < 0 {
		return false
	}
	if !MatchPrefix(prefixes, p[1+end:]) {
		return false // the cheaper test, and it rules out nearly every path
	}
	_, ok := languages[p[1:1+end]]
	return ok
}
