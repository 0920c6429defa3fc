package config

import (
	"bufio"
	"strings"
	"testing"
)

func TestOperateDefaults(t *testing.T) {
	c, err := Parse(nil, "/etc/maintgate/maintgate.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.StatsFile != DefaultStatsFile || c.Panel.Listen != DefaultPanelListen || c.Panel.AuditLog != DefaultAuditLog ||
		len(c.Panel.Auth) != 1 || c.Panel.Auth[0] != "django" || c.Fleet.Key != "maintgate" || c.Fleet.Resync.Duration != DefaultResync || c.Fleet.Redis != "" {
		t.Fatalf("defaults: stats %q panel %+v fleet %+v", c.StatsFile, c.Panel, c.Fleet)
	}
}

func TestOperateRelativePaths(t *testing.T) {
	c, err := Parse([]byte("stats_file = \"s.prom\"\n[panel]\nauth = [\"htpasswd\"]\nhtpasswd_file = \"users\"\naudit_log = \"audit.log\"\n"), "/srv/mg/maintgate.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.StatsFile != "/srv/mg/s.prom" || c.Panel.HtpasswdFile != "/srv/mg/users" || c.Panel.AuditLog != "/srv/mg/audit.log" {
		t.Fatalf("paths not resolved against the config's directory: %q %+v", c.StatsFile, c.Panel)
	}
}

// A relative ca_file is the config's directory's, as the other files.
func TestFleetCAFileRelative(t *testing.T) {
	c, err := Parse([]byte("[fleet]\nredis = \"rediss://:s3cret@h:6380/0\"\nca_file = \"redis-ca.pem\"\n"), "/srv/mg/maintgate.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Fleet.CAFile != "/srv/mg/redis-ca.pem" {
		t.Fatalf("ca_file not resolved against the config's directory: %q", c.Fleet.CAFile)
	}
}

func TestOperateInvalid(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"[panel]\nauth = [\"ldap\"]\n", `panel.auth[0]: "ldap" must be`},
		{"[panel]\nauth = [\"htpasswd\"]\n", "panel.htpasswd_file: must be set"},
		{"[panel]\nlisten = \"unix:run/p.sock\"\n", "unix:/absolute/path"},
		{"[fleet]\nredis = \"http://h:1\"\n", `scheme "http" must be redis or rediss`},
		{"[fleet]\nredis = \"redis://:s3cret@\"\n", "no host"},
		{"[fleet]\nkey = \"a b\"\n", "fleet.key"},
		{"[fleet]\nresync = \"10ms\"\n", "fleet.resync: 10ms is below 1s"},
		{"[fleet]\nredis = \"redis://:s3cret@h:6379\"\nbogus = 1\n", `unknown key "fleet.bogus"`},
		{"[fleet]\nredis = \"redis://:s3cret@h:6379\"\nca_file = \"ca.pem\"\n", "fleet.ca_file: is set but fleet.redis is not a rediss:// URL"},
	} {
		_, err := Parse([]byte(tc.toml), "t.toml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.toml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the password: %v", tc.toml, err)
		}
	}
}

func TestEncodeRedactsRedisPassword(t *testing.T) {
	c, err := Parse([]byte("[fleet]\nredis = \"rediss://:s3cret@redis.example:6380/2\"\n"), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.Encode(bufio.NewWriter(&b)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "s3cret") || !strings.Contains(b.String(), "rediss://:xxxxx@redis.example:6380/2") {
		t.Fatalf("config check output:\n%s", b.String())
	}
	if c.Fleet.Redis != "rediss://:s3cret@redis.example:6380/2" {
		t.Fatalf("Encode changed the config itself: %q", c.Fleet.Redis)
	}
}

// Not set, stats_file is stats.prom beside the state map: the contract's
// default for the default paths, and a file of its own for another
// configuration.
func TestStatsFileDefaultFollowsStateMap(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"", DefaultStatsFile},
		{"state_map = \"/srv/a/state.map\"\n", "/srv/a/stats.prom"},
		{"flag_file = \"f/maintenance\"\nstate_map = \"\"\n", "/etc/maintgate/f/stats.prom"},
		{"state_map = \"/srv/a/state.map\"\nstats_file = \"\"\n", ""},
		{"stats_file = \"/run/mg.prom\"\n", "/run/mg.prom"},
	} {
		c, err := Parse([]byte(tc.toml), "/etc/maintgate/maintgate.toml")
		if err != nil {
			t.Fatal(err)
		}
		if c.StatsFile != tc.want {
			t.Errorf("%q: stats_file %q, want %q", tc.toml, c.StatsFile, tc.want)
		}
	}
}

// The password never shows, whatever the URL holds: RedactURL rebuilds it
// from its parts, and a URL whose parts hide the password elsewhere (an
// unescaped '/', '#' or no ':') is refused, and not shown.
func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"rediss://:s3cret@redis.example:6380/2", "rediss://:xxxxx@redis.example:6380/2"},
		{"redis://maintgate:s3cret@h", "redis://maintgate:xxxxx@h"},
		{"redis://:p%2Fs3cret@h/1", "redis://:xxxxx@h/1"},
		{"redis://:2024/s3cret@h", "(a Redis URL, not shown)"},
		{"redis://:12#s3cret@h", "(a Redis URL, not shown)"},
		{"redis://s3cret@h", "(a Redis URL, not shown)"},
		{"redis://:s3cret@h/0?x=s3cret", "redis://:xxxxx@h/0"},
		{"::s3cret", "(a Redis URL, not shown)"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := checkRedisURL(tc.in); err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("checkRedisURL(%q) error shows the password: %v", tc.in, err)
		}
	}
	for _, bad := range []string{"redis://:2024/s3cret@h", "redis://:12#s3cret@h", "redis://s3cret@h"} {
		if _, err := Parse([]byte("[fleet]\nredis = \""+bad+"\"\n"), "t.toml"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
