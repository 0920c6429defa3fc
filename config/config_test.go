package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/authz"
)

func TestEmptyFileGivesDefaults(t *testing.T) {
	c, err := Parse(nil, "empty.toml")
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.FlagFile != d.FlagFile || c.OnError != "redirect" || c.Session.LookupTimeout.Duration != 100*time.Millisecond ||
		c.Token.Cookie != "maintgate_bypass" || !c.AllowAdminDuringMaintenance || len(c.AllowPaths) != 4 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown top-level key", "flag_file = \"/x\"\nwhitlist = [\"1.2.3.4\"]\n", []string{`t.toml:2: unknown key "whitlist"`}},
		{"unknown key in table", "[log]\nlevel = \"debug\"\n\n[session]\ncache = 5\n", []string{`t.toml:5: unknown key "session.cache"`}},
		{"unknown table", "[logging]\nlevel = \"x\"\n", []string{`t.toml:1: unknown key "logging"`, `t.toml:2: unknown key "logging.level"`}},
		{"syntax error names line", "a = 1\nb = \n", []string{"config t.toml:2:"}},
		{"bad values all reported", "on_error = \"maybe\"\n[log]\nlevel = \"loud\"\n[session]\nstore = \"redis\"\nlookup_timeout = \"1h\"\n",
			[]string{`on_error: "maybe"`, `log.level: "loud"`, `session.store: "redis"`, "session.lookup_timeout: 1h0m0s is too long"}},
		{"bad duration", "[session]\ncache_ttl = \"soon\"\n", []string{`"soon" is not a duration`}},
		{"django needs database", "[session]\nstore = \"django\"\n", []string{"session.database: must be set"}},
		{"paths must be absolute", "allow_paths = [\"static/\"]\nadmin_paths = [\"/\"]\n", []string{`allow_paths[0]: "static/"`, `admin_paths[0]: "/"`}},
		{"wrong type", "whitelist = \"10.0.0.0/8\"\n", []string{"t.toml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text), "t.toml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNormalizesPrefixes(t *testing.T) {
	c, err := Parse([]byte("allow_paths = [\"/static//\", \"/a/./b\", \"/robots.txt\"]\n[log]\nlevel = \"warning\"\n"), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.AllowPaths, " "); got != "/static/ /a/b /robots.txt" {
		t.Errorf("allow_paths = %q", got)
	}
	if c.Log.Level != "warn" {
		t.Errorf("level = %q", c.Log.Level)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("flag_file = \"/x\"\n[session]\nstore = \"django\"\ndatabase = \"sqlite:/x\"\n"))
	f.Add([]byte("[log]\nlevel = \"debug\"\n"))
	f.Add([]byte("whitelist = [\"10.0.0.0/8\", 1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "f.toml")
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.Contains(err.Error(), "f.toml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func TestLanguages(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", strings.Join(authz.DjangoLanguages(), " ")},
		{"languages = []\n", ""},
		{"languages = [\"de\", \"pt-br\", \"sr-latn\", \"sr@latin\", \"x-klingon\"]\n", "de pt-br sr-latn sr@latin x-klingon"},
	} {
		c, err := Parse([]byte(tc.text), "t.toml")
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		if got := strings.Join(c.Languages, " "); got != tc.want {
			t.Errorf("%q: languages = %q, want %q", tc.text, got, tc.want)
		}
	}
	c, _ := Parse(nil, "t.toml")
	for _, want := range []string{"de", "pt-br", "zh-hans", "en"} {
		if !slices.Contains(c.Languages, want) {
			t.Errorf("default languages lack %q", want)
		}
	}
	for _, no := range []string{"api", "app", "DE", "es_AR", "api-v2"} {
		if slices.Contains(c.Languages, no) {
			t.Errorf("default languages hold %q", no)
		}
	}
}

func TestLanguagesErrorsNameLine(t *testing.T) {
	text := "flag_file = \"/x\"\nlanguages = [\n  \"de\",\n  \"DE\",\n  \"pt_BR\",\n  \"\",\n  \"de/admin\",\n  \"toolonglang\",\n  \"de-\",\n  \"sr@\",\n]\n"
	_, err := Parse([]byte(text), "t.toml")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`t.toml:4: languages[1]: "DE" is not a lower-case language code like "de" or "pt-br" (write "de", as in the URL)`,
		`t.toml:5: languages[2]: "pt_BR" is not a lower-case language code like "de" or "pt-br" (write "pt-br", as in the URL)`,
		`languages[3]: ""`, `t.toml:7: languages[4]: "de/admin"`, `t.toml:8: languages[5]: "toolonglang"`,
		`t.toml:9: languages[6]: "de-"`, `t.toml:10: languages[7]: "sr@"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `"de" is not`) {
		t.Errorf("a good entry refused: %v", err)
	}
	_, err = Parse([]byte("languages = [\"de\", \"es_AR\"]\n"), "t.toml")
	if err == nil || !strings.Contains(err.Error(), `t.toml:1: languages[1]: "es_AR"`) {
		t.Errorf("one-line array: %v", err)
	}
}

func TestBackendPaths(t *testing.T) {
	for text, want := range map[string]string{"": "standard", "backend_paths = \"servlet\"\n": "servlet"} {
		c, err := Parse([]byte(text), "t.toml")
		if err != nil || c.BackendPaths != want {
			t.Errorf("%q: backend_paths %q, %v; want %q", text, c.BackendPaths, err, want)
		}
	}
	_, err := Parse([]byte("on_error = \"allow\"\nbackend_paths = \"tomcat\"\n"), "t.toml")
	if err == nil || !strings.Contains(err.Error(), `t.toml:2: backend_paths: "tomcat" must be "standard"`) {
		t.Errorf("err = %v", err)
	}
}
