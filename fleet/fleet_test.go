package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/internal/testsvc"
)

// syncBuf is a log destination the mirror's goroutine and the test share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// host is one installation: a config with [fleet] and a site "shop".
func host(t *testing.T, url string, resync string) *config.Config {
	return hostDir(t, t.TempDir(), url, resync)
}

func hostB(b *testing.B, url string) *config.Config { return hostDir(b, b.TempDir(), url, "30s") }

func hostDir(t testing.TB, dir, url, resync string) *config.Config {
	t.Helper()
	p := filepath.Join(dir, "maintgate.toml")
	text := "flag_file = \"" + filepath.Join(dir, "maintenance") + "\"\nstate_map = \"" + filepath.Join(dir, "state.map") + "\"\n" +
		"[sites.shop]\n[fleet]\nredis = \"" + url + "\"\nresync = \"" + resync + "\"\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startMirror(t *testing.T, cfg *config.Config) *syncBuf {
	t.Helper()
	var buf syncBuf
	log := zerolog.New(&buf)
	m, err := NewMirror(cfg, &log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &buf
}

func eventually(t *testing.T, what string, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fileIs(path string, want []byte) func() bool {
	return func() bool {
		b, err := os.ReadFile(path)
		if want == nil {
			return os.IsNotExist(err)
		}
		return err == nil && bytes.Equal(b, want)
	}
}

// TestMirrorFollowsStoreAndKeepsStateWhileRedisIsAway: on and off reach
// the mirror's files; Redis stopped, the files stay and the outage is
// logged once; Redis back, a change made meanwhile on the host alone is
// put back; a flushed Redis reopens nothing and logs an ERROR.
func TestMirrorFollowsStoreAndKeepsStateWhileRedisIsAway(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	cfg := host(t, r.URL, "1s")
	logs := startMirror(t, cfg)
	st := openStore(t, cfg)
	ctx := context.Background()
	shop, _ := cfg.FlagFileOf("shop")
	flag := []byte("message = \"back soon\"\n")
	if err := st.Put(ctx, "shop", flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shop's flag file written", 2*time.Second, fileIs(shop, flag))
	if err := st.Delete(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shop's flag file removed", 2*time.Second, fileIs(shop, nil))
	if err := st.Put(ctx, "default", flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, "default's flag file written", 2*time.Second, fileIs(cfg.FlagFile, flag))

	r.Stop(t)
	// A change on this host alone while Redis is away.
	os.Remove(cfg.FlagFile)
	time.Sleep(2500 * time.Millisecond) // two resyncs and several reconnection tries
	if n := strings.Count(logs.String(), "Redis unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs)
	}
	if fileIs(cfg.FlagFile, nil)() != true {
		t.Errorf("the mirror touched the flag file while Redis was away")
	}
	l, err := ReadLink(LinkPath(cfg))
	if err != nil || l.Connected || l.LastError == "" {
		t.Errorf("link while Redis is away: %+v, %v", l, err)
	}
	r.Start(t)
	eventually(t, "the fleet's flag put back", 2*time.Second, fileIs(cfg.FlagFile, flag))
	eventually(t, "reconnection logged", time.Second, func() bool { return strings.Contains(logs.String(), "reachable again") })

	// Redis was empty when the mirror started: that was logged once.
	lost := func() int { return strings.Count(logs.String(), "holds none of maintgate's keys") }
	before := lost()
	r.Flush(t)
	if err := st.c.Publish(ctx, st.keys.Events(), "hello").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "lost keys logged", 2*time.Second, func() bool { return lost() > before })
	if !fileIs(cfg.FlagFile, flag)() {
		t.Errorf("a flushed Redis reopened the site")
	}
	if strings.Contains(logs.String(), r.Password) {
		t.Errorf("the password reached the log:\n%s", logs)
	}
	if b, _ := os.ReadFile(LinkPath(cfg)); bytes.Contains(b, []byte(r.Password)) || !bytes.Contains(b, []byte("keys_lost yes")) {
		t.Errorf("link file:\n%s", b)
	}
}

// TestStoreErrorsHoldNoPassword: a wrong password and an unreachable
// Redis both fail with the URL redacted.
func TestStoreErrorsHoldNoPassword(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	ctx := context.Background()
	wrong := strings.Replace(r.URL, r.Password, "not-the-Secret-42", 1)
	down := "redis://:not-the-Secret-42@127.0.0.1:1/0"
	for _, u := range []string{wrong, down} {
		st, err := Open(config.Fleet{Redis: u, Key: "mg"})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{st.Ping(ctx), st.Put(ctx, "default", nil), st.Delete(ctx, "default")} {
			if err == nil || strings.Contains(err.Error(), "not-the-Secret-42") || !strings.Contains(err.Error(), "xxxxx") {
				t.Errorf("%s: error %v", config.RedactURL(u), err)
			}
		}
		st.Close()
	}
	if _, err := Open(config.Fleet{Redis: "redis://:p%zzsecret@host", Key: "mg"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: %v", err)
	}
}

// TestListShowsEverySite: status --fleet's listing, through a Redis
// user limited to maintgate's keys and channel as docs/fleet.md
// advises (so the store needs no other command).
func TestListShowsEverySite(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	ctx := context.Background()
	admin := r.Client(t)
	defer admin.Close()
	acl := []any{"ACL", "SETUSER", "maintgate", "on", ">user-pw", "~mg:*", "&mg:events", "+@connection", "+get", "+mget", "+set", "+del", "+scan", "+publish", "+subscribe", "+multi", "+exec", "+watch", "+unwatch"}
	if err := admin.Do(ctx, acl...).Err(); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(r.URL, "://:"+r.Password+"@", "://maintgate:user-pw@", 1)
	st, err := Open(config.Fleet{Redis: url, Key: "mg"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := host(t, url, "1s")
	cfg.Fleet.Key = "mg"
	startMirror(t, cfg)
	snap, sites, err := st.List(ctx)
	if err != nil || snap.Written != "" || len(sites) != 0 {
		t.Fatalf("empty Redis: %+v %v %v", snap, sites, err)
	}
	st.Put(ctx, "shop", []byte("a"))
	st.Put(ctx, "blog", []byte("b"))
	snap, sites, err = st.List(ctx)
	if err != nil || WrittenTime(snap.Written).IsZero() || strings.Join(sites, ",") != "blog,shop" || string(snap.Flags["shop"]) != "a" {
		t.Fatalf("listing: %+v %v %v", snap, sites, err)
	}
	shop, _ := cfg.FlagFileOf("shop")
	eventually(t, "the mirror of a limited user writes shop's flag", 2*time.Second, fileIs(shop, []byte("a")))
}

func TestErrChangedIsAConflict(t *testing.T) {
	if !errors.Is(fmt.Errorf("on: %w", ErrChanged), control.ErrConflict) {
		t.Fatal("ErrChanged is not a control.ErrConflict: the panel would answer 500")
	}
}

// openStore opens the fleet's store of cfg, closed when the test ends.
func openStore(t *testing.T, cfg *config.Config) *Store {
	t.Helper()
	st, err := Open(cfg.Fleet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
