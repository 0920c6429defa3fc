package authz

import (
	"strings"
	"testing"
)

func TestServletReadings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [len(servletReadings)]string
	}{
		{"/static/..;/de/map/", [...]string{"/static/../de/map/", "/static/../de/map/", "/static/../de/map/", "/static/..;/de/map/"}},
		{"/admin/..\\de/map/", [...]string{"/admin/..\\de/map/", "/admin/../de/map/", "/admin/../de/map/", "/admin/../de/map/"}},
		{"/a;x\\..\\b/c", [...]string{"/a/c", "/a/c", "/a/../b/c", "/a;x/../b/c"}},
		{"/a.js;jsessionid=1", [...]string{"/a.js", "/a.js", "/a.js", "/a.js;jsessionid=1"}},
	} {
		for i, rd := range servletReadings {
			if got := rd.read(tc.in); got != tc.want[i] {
				t.Errorf("reading %+v of %q = %q, want %q", rd, tc.in, got, tc.want[i])
			}
		}
	}
}

// FuzzPathRule: servlet mode never allows what the standard mode
// refuses, nor what any servlet reading of the path refuses; a language
// prefix is only ever one of the configured codes.
func FuzzPathRule(f *testing.F) {
	f.Add("/static/..;/de/map/")
	f.Add("/admin/..\\de/map/")
	f.Add("/pt-br/admin/x;y/")
	f.Add("/api/admin/")
	f.Add("/static/a.js;v=1")
	std := decisionPolicy(f)
	srv := decisionPolicy(f)
	srv.ServletPaths = true
	f.Add("/hooks/..;/de/map/")
	// A window with an --allow-path: its prefix is held to the same
	// readings as allow_paths.
	w := &Window{Present: true, Paths: []string{"/hooks/"}}
	f.Fuzz(func(t *testing.T, p string) {
		rs, _, okStd := std.pathRule(p, w, now)
		rv, _, okSrv := srv.pathRule(p, w, now)
		if okSrv && (!okStd || rv != rs) {
			t.Fatalf("%q: servlet %v %v, standard %v %v", p, rv, okSrv, rs, okStd)
		}
		if okSrv {
			for _, rd := range servletReadings {
				if _, _, ok := std.matchPath(CleanPath(rd.read(p)), w, now); !ok {
					t.Fatalf("%q allowed, but its reading %q is not", p, rd.read(p))
				}
			}
		}
		clean := CleanPath(p)
		if MatchAdmin(std.AdminPaths, std.Languages, clean) && !MatchPrefix(std.AdminPaths, clean) {
			seg, _, _ := strings.Cut(clean[1:], "/")
			if _, ok := std.Languages[seg]; !ok {
				t.Fatalf("%q: admin behind %q, which is no configured language", p, seg)
			}
		}
	})
}
