package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/internal/testsvc"
)

// Findings of the fleet's review (issue 14), each against a real Redis.

// A flushed Redis, then an on of another site: the marker KEY:written is
// back, but nothing was said of shop, which stays on (it was reopened).
func TestFlushThenAnotherSitesOnKeepsShop(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	cfg := host(t, r.URL, "1s")
	logs := startMirror(t, cfg)
	st := openStore(t, cfg)
	ctx := context.Background()
	shop, _ := cfg.FlagFileOf("shop")
	flag := []byte("message = \"x\"\n")
	if err := st.Put(ctx, "shop", flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shop on", 2*time.Second, fileIs(shop, flag))
	r.Flush(t)
	if err := st.Put(ctx, "default", []byte("message = \"y\"\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "default on", 2*time.Second, fileIs(cfg.FlagFile, []byte("message = \"y\"\n")))
	if err := st.Delete(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "default off", 2*time.Second, fileIs(cfg.FlagFile, nil))
	time.Sleep(1500 * time.Millisecond) // a resync more
	if !fileIs(shop, flag)() {
		t.Fatalf("an on/off of default after a flush reopened shop:\n%s", logs)
	}
	if n := strings.Count(logs.String(), "holds no flag and no marker for this site"); n != 1 {
		t.Errorf("shop's silence logged %d times, want once:\n%s", n, logs)
	}
	if l, err := ReadLink(LinkPath(cfg)); err != nil || l.Kept != "shop" {
		t.Errorf("link %+v %v", l, err)
	}
	// The fleet's own off of shop is an order: it reopens shop.
	if err := st.Delete(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shop off", 2*time.Second, fileIs(shop, nil))
}

// A fleet switched on for the first time: a site a host had switched on
// by itself stays on when the fleet's first on is for another site.
func TestFirstFleetOnKeepsLocalSites(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	cfg := host(t, r.URL, "1s")
	shop, _ := cfg.FlagFileOf("shop")
	local := []byte("message = \"local\"\n")
	if err := os.WriteFile(shop, local, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := startMirror(t, cfg)
	st := openStore(t, cfg)
	if err := st.Put(context.Background(), "default", []byte("a")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "default on", 2*time.Second, fileIs(cfg.FlagFile, []byte("a")))
	time.Sleep(1500 * time.Millisecond)
	if !fileIs(shop, local)() {
		t.Fatalf("the fleet's first on reopened this host's shop:\n%s", logs)
	}
}

// controller changes a host with sites shop and blog whose fleet is the
// Redis at url, under the key prefix "mg".
func controller(t *testing.T, url string) *control.Controller {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "maintgate.toml")
	text := "flag_file = \"" + filepath.Join(dir, "maintenance") + "\"\nstate_map = \"" + filepath.Join(dir, "state.map") + "\"\n" +
		"[sites.shop]\n[sites.blog]\n[fleet]\nredis = \"" + url + "\"\nkey = \"mg\"\n"
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(cfg.Fleet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &control.Controller{Config: cfg, Actor: control.Actor{Who: "alice", Via: "cli"}, Remote: st}
}

// A change of two sites that Redis refuses for the second (here an ACL
// that may write shop's key only) leaves neither in Redis: one MULTI.
func TestTwoSiteChangeIsAllOrNothing(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	ctx := context.Background()
	admin := r.Client(t)
	defer admin.Close()
	acl := []any{"ACL", "SETUSER", "mg", "on", ">user-pw", "%R~mg:*", "%W~mg:flag:shop", "%W~mg:written*", "&mg:events",
		"+@connection", "+get", "+mget", "+set", "+del", "+publish", "+multi", "+exec", "+watch", "+unwatch"}
	if err := admin.Do(ctx, acl...).Err(); err != nil {
		t.Fatal(err)
	}
	c := controller(t, strings.Replace(r.URL, "://:"+r.Password+"@", "://mg:user-pw@", 1))
	events := admin.Subscribe(ctx, "mg:events")
	defer events.Close()
	if _, err := events.ReceiveTimeout(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.On(ctx, []string{"shop", "blog"}, control.Change{}); err == nil {
		t.Fatal("on shop blog succeeded although Redis refuses blog")
	}
	if n, err := admin.Exists(ctx, "mg:flag:shop", "mg:flag:blog", "mg:written").Result(); err != nil || n != 0 {
		t.Fatalf("Redis holds %d of the change's keys (the fleet split), %v", n, err)
	}
	shop, _ := c.Config.FlagFileOf("shop")
	if _, err := os.Stat(shop); !os.IsNotExist(err) {
		t.Fatalf("shop switched on this host: %v", err)
	}
	// Both allowed: one event for the whole change.
	if err := admin.Do(ctx, "ACL", "SETUSER", "mg", "%W~mg:flag:blog").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.On(ctx, []string{"shop", "blog"}, control.Change{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		msg, err := events.ReceiveTimeout(ctx, 300*time.Millisecond)
		if err != nil {
			break
		}
		got = append(got, msg.(interface{ String() string }).String())
	}
	if len(got) != 1 || !strings.Contains(got[0], "on shop,blog") {
		t.Fatalf("events %q, want one", got)
	}
}

// On from a host whose flag file is missing (an admin box, no map)
// builds on the fleet's flag: the window set before stays.
func TestOnFromAHostWithoutFlagKeepsTheFleetsWindow(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	ctx := context.Background()
	c := controller(t, r.URL)
	until := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	if _, err := c.On(ctx, nil, control.Change{Until: until.Format(time.RFC3339), Set: map[string]bool{"until": true}}); err != nil {
		t.Fatal(err)
	}
	os.Remove(c.Config.FlagFile) // this host has no map: its file is not the fleet's
	if _, err := c.On(ctx, nil, control.Change{Message: "x", Set: map[string]bool{"message": true}}); err != nil {
		t.Fatal(err)
	}
	admin := r.Client(t)
	defer admin.Close()
	data, err := admin.Get(ctx, "mg:flag:default").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := flagfile.Parse(data)
	if err != nil || f.Message != "x" || !f.Until.Equal(until) {
		t.Fatalf("the fleet's flag after on --message: %+v %v (until want %s)", f, err, until)
	}
}

// A subscription Redis refuses (an ACL without the channel) is said as
// such in the log and the link file, and asked again at each resync: once
// the ACL is mended, events flow.
func TestRefusedSubscriptionIsReportedAndRetried(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	ctx := context.Background()
	admin := r.Client(t)
	defer admin.Close()
	acl := []any{"ACL", "SETUSER", "mg", "on", ">user-pw", "~maintgate:*", "resetchannels", "+@connection",
		"+get", "+mget", "+set", "+del", "+publish", "+subscribe", "+multi", "+exec"}
	if err := admin.Do(ctx, acl...).Err(); err != nil {
		t.Fatal(err)
	}
	cfg := host(t, strings.Replace(r.URL, "://:"+r.Password+"@", "://mg:user-pw@", 1), "1s")
	logs := startMirror(t, cfg)
	refused := func() bool {
		l, err := ReadLink(LinkPath(cfg))
		return err == nil && strings.HasPrefix(l.Events, "refused: ") && strings.Contains(l.Events, "NOPERM")
	}
	eventually(t, "the link says the subscription is refused", 3*time.Second, refused)
	time.Sleep(2500 * time.Millisecond) // two resyncs: two more refusals
	if n := strings.Count(logs.String(), "refuses the subscription"); n != 1 || strings.Contains(logs.String(), "unreachable") {
		t.Errorf("refusal logged %d times (want once, never as unreachable):\n%s", n, logs)
	}
	if err := admin.Do(ctx, "ACL", "SETUSER", "mg", "&maintgate:events").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the link says subscribed", 3*time.Second, func() bool {
		l, err := ReadLink(LinkPath(cfg))
		return err == nil && l.Events == "subscribed"
	})
	if !strings.Contains(logs.String(), "accepts the subscription") {
		t.Errorf("no log line for the accepted subscription:\n%s", logs)
	}
}

// A reload that changes the sites (or [fleet]) is not followed by the
// running mirror: it says so once, in a WARN.
func TestConfigChangeWarns(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	cfg := host(t, r.URL, "1s")
	logs := startMirror(t, cfg)
	text, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // a resync with the file as it was: no warning
	if strings.Contains(logs.String(), "configuration changed") {
		t.Fatalf("warned of no change:\n%s", logs)
	}
	if err := os.WriteFile(cfg.Path, append(text, "\n[sites.blog]\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a WARN about the new site", 2*time.Second, func() bool { return strings.Contains(logs.String(), "the sites or their flag files") })
	time.Sleep(1200 * time.Millisecond)
	if n := strings.Count(logs.String(), "configuration changed"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs)
	}
}

// racing is the store with another operator's change landing between
// on's read of the fleet's flag and its write.
type racing struct {
	*Store
	admin *redis.Client
}

func (r racing) Flags(ctx context.Context, sites []string) (map[string][]byte, error) {
	f, err := r.Store.Flags(ctx, sites)
	r.admin.Set(ctx, "mg:flag:default", "message = \"other\"\n", 0)
	return f, err
}

// Two ons at one moment: the later one fails whole rather than drop the
// earlier one's fields, and nothing is written.
func TestConcurrentOnFailsRatherThanDrop(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	ctx := context.Background()
	admin := r.Client(t)
	defer admin.Close()
	c := controller(t, r.URL)
	c.Remote = racing{Store: c.Remote.(*Store), admin: admin}
	_, err := c.On(ctx, nil, control.Change{Until: "2h", Set: map[string]bool{"until": true}})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("err %v, want ErrChanged", err)
	}
	if got, _ := admin.Get(ctx, "mg:flag:default").Result(); got != "message = \"other\"\n" {
		t.Fatalf("Redis holds %q", got)
	}
	if _, err := os.Stat(c.Config.FlagFile); !os.IsNotExist(err) {
		t.Fatalf("the local flag was written: %v", err)
	}
}
