package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

// setup.go: `maintgate setup django`, the Django quick start (issue 13).
// Finding an application's database and SECRET_KEY, copying the key into
// a file of the right mode and writing [session] by hand were the slowest
// steps of a new operator's first hour; Django itself knows them all, so
// its own settings module is asked, with the project's python.

// djangoProbe runs inside the application's python and prints what
// maintgate needs of its settings as one JSON object on stdout.
const djangoProbe = `
import json, sys
import django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
try:
    from django.contrib.auth import get_user_model
    user_table = get_user_model()._meta.db_table
except Exception:
    user_table = "auth_user"
json.dump({
    "engine": db.get("ENGINE", ""), "name": str(db.get("NAME", "")),
    "user": db.get("USER", ""), "password": db.get("PASSWORD", ""),
    "host": db.get("HOST", ""), "port": str(db.get("PORT", "")),
    "secret_key": settings.SECRET_KEY,
    "fallbacks": list(getattr(settings, "SECRET_KEY_FALLBACKS", [])),
    "session_engine": settings.SESSION_ENGINE,
    "session_cookie": settings.SESSION_COOKIE_NAME,
    "cookie_age": int(settings.SESSION_COOKIE_AGE),
    "use_tz": bool(settings.USE_TZ), "time_zone": settings.TIME_ZONE or "UTC",
    "user_table": user_table,
}, sys.stdout)
`

// djangoSettings is what djangoProbe prints.
type djangoSettings struct {
	Engine        string   `json:"engine"`
	Name          string   `json:"name"`
	User          string   `json:"user"`
	Password      string   `json:"password"`
	Host          string   `json:"host"`
	Port          string   `json:"port"`
	SecretKey     string   `json:"secret_key"`
	Fallbacks     []string `json:"fallbacks"`
	SessionEngine string   `json:"session_engine"`
	SessionCookie string   `json:"session_cookie"`
	CookieAge     int      `json:"cookie_age"`
	UseTZ         bool     `json:"use_tz"`
	TimeZone      string   `json:"time_zone"`
	UserTable     string   `json:"user_table"`
}

// runSetup: setup django --settings-module M [--pythonpath DIR] [--python P]
// [--secret-file F]: reads the settings, writes the secret file and the
// config's [session], then runs config check.
func runSetup(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "django" {
		return usageError("setup: the only subcommand is: setup django --settings-module M")
	}
	fs, cfgPath := flags(e, "setup django")
	module := fs.String("settings-module", "", "the Django settings `module`, as in DJANGO_SETTINGS_MODULE")
	pypath := fs.String("pythonpath", ".", "the `directory` the module is imported from (the project's, where manage.py is)")
	python := fs.String("python", "/usr/bin/python3", "the `python` that runs the application (a virtualenv's bin/python)")
	secretFile := fs.String("secret-file", "", "where to write SECRET_KEY (default: django.secret beside the config)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *module == "" {
		return usageError("setup django: --settings-module is required (the project's DJANGO_SETTINGS_MODULE, e.g. mysite.settings)")
	}
	dir, err := filepath.Abs(*pypath)
	if err != nil {
		return fmt.Errorf("setup django: --pythonpath: %w", err)
	}
	s, err := readDjangoSettings(ctx, *python, *module, dir)
	if err != nil {
		return err
	}
	if *secretFile == "" {
		*secretFile = filepath.Join(filepath.Dir(*cfgPath), "django.secret")
	}
	keys, err := djangoSessionKeys(s, dir, *secretFile)
	if err != nil {
		return err
	}
	if err := writeDjangoSecret(*secretFile, s); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "# wrote SECRET_KEY (and %d fallbacks) to %s, mode 0640%s\n", len(s.Fallbacks), *secretFile, groupNote())
	if err := writeSessionConfig(*cfgPath, keys, s.Password != ""); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "# wrote [session] (store %s) and allow_admin_during_maintenance = true to %s\n", keys[1][2], *cfgPath)
	if s.Password != "" {
		fmt.Fprintf(e.stderr, "# the database URL holds the application's password: %s is now mode 0640%s; a read-only database user for maintgate is better (SELECT on %s and %s)\n",
			*cfgPath, groupNote(), "django_session", s.UserTable)
	}
	if path, ok := strings.CutPrefix(strings.Trim(keys[3][2], `"`), "sqlite:"); ok && !readableByMap(path) {
		fmt.Fprintf(e.stderr, "# maintgate map runs as user maintgate (the package's conf): let it read %s (chgrp maintgate, chmod g+r, and its directory g+x)\n", path)
	}
	check := *e
	check.config = *cfgPath
	return runConfig(ctx, &check, []string{"check"})
}

// readDjangoSettings runs djangoProbe with the application's python.
// Its stderr (a traceback: a module not found, a settings error) is shown
// on failure; SECRET_KEY only ever travels over the pipe.
func readDjangoSettings(ctx context.Context, python, module, dir string) (*djangoSettings, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", djangoProbe)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DJANGO_SETTINGS_MODULE="+module, "PYTHONPATH="+dir, "PYTHONDONTWRITEBYTECODE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("setup django: %s could not load %s from %s: %v\n%s", python, module, dir, err, lastLines(stderr.String(), 8))
	}
	var s djangoSettings
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		return nil, fmt.Errorf("setup django: reading the settings %s printed: %w", python, err)
	}
	if strings.TrimSpace(s.SecretKey) == "" {
		return nil, fmt.Errorf("setup django: %s has an empty SECRET_KEY", module)
	}
	return &s, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// djangoSessionKeys are the config lines setup writes: {section, key,
// TOML value}. store is always the second.
func djangoSessionKeys(s *djangoSettings, dir, secretFile string) ([][3]string, error) {
	var store string
	switch s.SessionEngine {
	case "django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db":
		store = "django"
	case "django.contrib.sessions.backends.signed_cookies":
		store = "django-signed-cookies"
	default:
		return nil, fmt.Errorf("setup django: SESSION_ENGINE %q keeps sessions where maintgate cannot read them (it reads the database, and signed cookies)", s.SessionEngine)
	}
	db, sqlOrMySQL, err := djangoDatabaseURL(s, dir)
	if err != nil {
		return nil, err
	}
	q := strconv.Quote
	keys := [][3]string{
		{"", "allow_admin_during_maintenance", "true"},
		{"session", "store", q(store)},
		{"session", "cookie", q(s.SessionCookie)},
		{"session", "database", q(db)},
		{"session", "secret_key_file", q(secretFile)},
	}
	if s.UserTable != "auth_user" {
		keys = append(keys, [3]string{"session", "user_table", q(s.UserTable)})
	}
	if store == "django-signed-cookies" {
		keys = append(keys, [3]string{"session", "cookie_age", q(fmt.Sprintf("%ds", s.CookieAge))})
	}
	// Zoneless expire_date columns hold TIME_ZONE's wall time.
	if !s.UseTZ && sqlOrMySQL {
		keys = append(keys, [3]string{"session", "time_zone", q(s.TimeZone)})
	}
	return keys, nil
}

// djangoDatabaseURL turns DATABASES["default"] into maintgate's URL; the
// bool says whether expire_date is zoneless there (SQLite, MySQL).
func djangoDatabaseURL(s *djangoSettings, dir string) (string, bool, error) {
	engine := s.Engine[strings.LastIndexByte(s.Engine, '.')+1:]
	userinfo := url.UserPassword(s.User, s.Password)
	if s.Password == "" {
		userinfo = url.User(s.User)
	}
	switch engine {
	case "sqlite3", "spatialite":
		name := s.Name
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return "sqlite:" + name, true, nil
	case "postgresql", "postgresql_psycopg2", "postgis":
		u := &url.URL{Scheme: "postgres", User: userinfo, Host: hostPort(s.Host, s.Port), Path: "/" + s.Name}
		if s.Host == "" || strings.HasPrefix(s.Host, "/") {
			// A Unix socket, as psycopg2 uses when HOST is empty.
			sock := s.Host
			if sock == "" {
				sock = "/var/run/postgresql"
			}
			u.Host, u.RawQuery = "", url.Values{"host": {sock}}.Encode()
		}
		return u.String(), false, nil
	case "mysql":
		u := &url.URL{Scheme: "mysql", User: userinfo, Host: hostPort(s.Host, s.Port), Path: "/" + s.Name}
		if s.Host == "" || s.Host == "localhost" || strings.HasPrefix(s.Host, "/") {
			// MySQLdb's default: the server's Unix socket.
			sock := s.Host
			if !strings.HasPrefix(sock, "/") {
				sock = "/run/mysqld/mysqld.sock"
			}
			u.Host, u.RawQuery = "localhost", url.Values{"socket": {sock}}.Encode()
		}
		return u.String(), true, nil
	}
	return "", false, fmt.Errorf("setup django: database ENGINE %q: maintgate reads PostgreSQL, MySQL/MariaDB and SQLite", s.Engine)
}

func hostPort(host, port string) string {
	if port == "" {
		return host
	}
	return host + ":" + port
}

// maintgateGroup is the group id of the package's group, -1 without it.
func maintgateGroup() int {
	g, err := user.LookupGroup("maintgate")
	if err != nil {
		return -1
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1
	}
	return gid
}

// readableByMap says whether a file is readable by others, or by group
// maintgate: what the map, running as maintgate, needs of a SQLite file.
func readableByMap(path string) bool {
	st, err := os.Stat(path)
	if err != nil {
		return false
	}
	if st.Mode().Perm()&0o004 != 0 {
		return true
	}
	gid := maintgateGroup()
	return gid >= 0 && st.Mode().Perm()&0o040 != 0 && fileGID(st) == gid
}

func fileGID(st os.FileInfo) int {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Gid)
	}
	return -1
}

func groupNote() string {
	if maintgateGroup() >= 0 {
		return ", group maintgate"
	}
	return ""
}

// writeDjangoSecret writes SECRET_KEY, then SECRET_KEY_FALLBACKS, one a
// line, mode 0640: the map (group maintgate) reads it, nobody else.
func writeDjangoSecret(path string, s *djangoSettings) error {
	var b strings.Builder
	for _, k := range append([]string{s.SecretKey}, s.Fallbacks...) {
		// The secret file's comments are "#" and "# …" lines.
		if strings.ContainsAny(k, "\r\n") || k == "#" || strings.HasPrefix(k, "# ") {
			return errors.New("setup django: a secret key holds a line break or reads as a comment; write the secret file by hand")
		}
		b.WriteString(k + "\n")
	}
	if err := flagfile.WriteAtomic(path, []byte(b.String()), 0o640); err != nil {
		return fmt.Errorf("setup django: secret file: %w", err)
	}
	if gid := maintgateGroup(); gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("setup django: secret file: %w", err)
		}
	}
	return nil
}

// writeSessionConfig sets keys in the config file, keeping its comments
// and every other line, and writes it only when the result loads. With a
// password in it, the file is made 0640 (group maintgate).
func writeSessionConfig(path string, keys [][3]string, secret bool) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("setup django: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("setup django: %w", err)
	}
	text := string(old)
	for _, k := range keys {
		text = setTOMLKey(text, k[0], k[1], k[2])
	}
	if _, err := config.Parse([]byte(text), path); err != nil {
		return fmt.Errorf("setup django: the edited %s would not load (left unchanged): %w", path, err)
	}
	mode := st.Mode().Perm()
	if secret {
		mode &^= 0o007
	}
	if err := flagfile.WriteAtomic(path, []byte(text), mode); err != nil {
		return fmt.Errorf("setup django: %w", err)
	}
	if gid := maintgateGroup(); secret && gid >= 0 {
		return os.Chown(path, -1, gid)
	}
	return nil
}

// setTOMLKey sets key = value in section ("" is the top level) of a TOML
// text, line by line: it replaces the key's line, or else a commented
// "# key = ..." line of the section, or else adds the line at the end of
// the section (and the section at the end of the text when missing).
// Values are single-line; other lines are kept as they are.
func setTOMLKey(text, section, key, value string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	line := key + " = " + value
	cur, found, commented, end := "", -1, -1, -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if h, ok := tomlHeader(t); ok {
			cur = h
			continue
		}
		if cur != section {
			continue
		}
		if t != "" {
			end = i
		}
		if name, _, ok := strings.Cut(t, "="); ok && found < 0 && strings.TrimSpace(name) == key {
			found = i
		} else if c, ok := strings.CutPrefix(t, "#"); ok && commented < 0 {
			if name, _, ok := strings.Cut(c, "="); ok && strings.TrimSpace(name) == key {
				commented = i
			}
		}
	}
	switch {
	case found >= 0:
		lines[found] = line
	case commented >= 0:
		lines[commented] = line
	case end >= 0 || (section == "" && len(lines) > 0):
		lines = append(lines[:end+1], append([]string{line}, lines[end+1:]...)...)
	default:
		lines = append(lines, "", "["+section+"]", line)
	}
	return strings.Join(lines, "\n") + "\n"
}

// tomlHeader reports whether a trimmed line is a table header, [name].
func tomlHeader(t string) (string, bool) {
	if !strings.HasPrefix(t, "[") || strings.HasPrefix(t, "[[") {
		return "", false
	}
	i := strings.IndexByte(t, ']')
	if i < 0 {
		return "", false
	}
	rest := strings.TrimSpace(t[i+1:])
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return "", false
	}
	return strings.TrimSpace(t[1:i]), true
}
