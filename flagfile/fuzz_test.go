package flagfile

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParse: any flag file text is read without a panic, and a flag that
// parses is written back (as `on` writes it) to one that parses the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("message = \"Back at 15:00\"\nuntil = 2026-12-03T15:00:00Z\nallow = [\"10.0.0.0/8\"]\nallow_paths = [\"/healthz\"]\n"))
	f.Add([]byte("start = 2026-12-03T14:00:00+01:00\nset_by = \"root\"\n"))
	f.Add([]byte("message = '''\nline\n'''\n[x]\ny = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Parse(data)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(fl); err != nil {
			return // a value TOML cannot write (a time out of range): Write reports it
		}
		again, err := Parse(b.Bytes())
		if err != nil {
			t.Fatalf("written flag does not parse: %v\n%s", err, b.Bytes())
		}
		if again.Message != fl.Message || !slices.Equal(again.Allow, fl.Allow) || !slices.Equal(again.AllowPaths, fl.AllowPaths) ||
			!again.Until.Equal(fl.Until) || !again.Start.Equal(fl.Start) {
			t.Fatalf("round trip changed the flag:\n%+v\n%+v", fl, again)
		}
	})
}

// FuzzStates: the state map as written (StatesText) reads back line for
// line, and any text at the path reads without a panic, keeping the first
// line of each key as Apache's txt: map does.
func FuzzStates(f *testing.F) {
	f.Add("shop", "blog", []byte("state on\ndefault on\n# comment\nshop off\nshop on\n"))
	f.Add("a-b_c", "x", []byte("\n\n  \t\nstate\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, a, b string, raw []byte) {
		p := filepath.Join(dir, "state.map")
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		m := ReadStates(p)
		for k, v := range m {
			if k == "" || strings.HasPrefix(k, "#") || v == "" {
				t.Fatalf("key %q value %q from %q", k, v, raw)
			}
		}
		// Site names as config allows them (config.ValidSiteName; this
		// package cannot import config).
		valid := func(s string) bool {
			if s == "" || len(s) > 63 || s == "state" || s == ServerWide {
				return false
			}
			for i := 0; i < len(s); i++ {
				c := s[i]
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')) {
					return false
				}
			}
			return true
		}
		if !valid(a) || !valid(b) || a == b {
			return
		}
		want := []SiteState{{ServerWide, Off}, {a, On}, {b, Off}}
		if _, err := WriteStates(p, want); err != nil {
			t.Fatal(err)
		}
		got := ReadStates(p)
		for _, s := range want {
			if got[s.Name] != s.State {
				t.Fatalf("%s: %q, want %q (file %q)", s.Name, got[s.Name], s.State, StatesText(want))
			}
		}
		if got["state"] != got[ServerWide] {
			t.Fatalf("state %q, default %q: the server-wide line must say what default says", got["state"], got[ServerWide])
		}
	})
}
