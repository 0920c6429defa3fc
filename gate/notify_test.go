package gate

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/rewritemap"
)

// openNoTick opens a map whose tick never comes: what it sees of a flag
// change while the flag is on, it sees through inotify.
func openNoTick(t *testing.T, s *site) *Gate {
	t.Helper()
	g, err := Open(Options{ConfigPath: s.path("maintgate.toml"), Watch: true, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// acked reports whether the map's acknowledgement names the flag file of
// site as it is now (what `maintgate on` waits for).
func (s *site) acked(site, flag string) bool {
	a, err := flagfile.ReadAck(s.path("state.map.ack"))
	return err == nil && a.PID == os.Getpid() && a.Sites[site] == flagfile.StatVersion(s.path(flag)).String()
}

// TestFlagChangeSeenWithoutTick: a narrower --allow, a removed flag and a
// site's flag are applied and acknowledged without a tick and without a
// request: the watcher follows the flags' directory. Before, a change of
// a flag already on waited for the tick.
func TestFlagChangeSeenWithoutTick(t *testing.T) {
	s := newSitesSite(t)
	must(t, flagfile.Write(s.path("maintenance"), flagfile.Flag{Allow: []string{"203.0.113.0/24"}}))
	g := openNoTick(t, s)
	friend := "203.0.113.50 /de/map/  " // not in whitelist.txt
	if got := ask(g, friend); got != rewritemap.Allow {
		t.Fatalf("window's --allow: %s", got)
	}
	eventually(t, "acknowledgement at start", func() bool { return s.acked("default", "maintenance") })

	must(t, flagfile.Write(s.path("maintenance"), flagfile.Flag{Allow: []string{"203.0.113.51"}}))
	eventually(t, "narrower --allow acknowledged", func() bool { return s.acked("default", "maintenance") })
	if got := ask(g, friend); got != rewritemap.Redirect {
		t.Errorf("after a narrower --allow was acknowledged: %s", got)
	}

	must(t, flagfile.Write(s.path("maintenance.shop"), flagfile.Flag{}))
	eventually(t, "shop's flag acknowledged", func() bool { return s.acked("shop", "maintenance.shop") })
	must(t, os.Remove(s.path("maintenance")))
	eventually(t, "flag removal acknowledged", func() bool { return s.acked("default", "maintenance") })
	if got := ask(g, friend); got != rewritemap.Allow {
		t.Errorf("after the flag went: %s", got)
	}
	if got := ask(g, friend+" shop"); got != rewritemap.Redirect {
		t.Errorf("shop, its own flag on: %s", got)
	}
}

// TestAckLatency measures what `maintgate on` waits for: from the flag
// written (by rename, as on writes it) to the map's acknowledgement of
// it, over 100 changes of a flag that stays on. The median is logged
// (go test -v -run TestAckLatency ./gate); the test fails only when a
// change is not acknowledged within a second, ten ticks of the old
// watcher.
func TestAckLatency(t *testing.T) {
	s := newSite(t)
	must(t, flagfile.Write(s.path("maintenance"), flagfile.Flag{}))
	openNoTick(t, s)
	eventually(t, "acknowledgement at start", func() bool { return s.acked("default", "maintenance") })
	var lat []time.Duration
	for i := 0; i < 100; i++ {
		f := flagfile.Flag{}
		if i%2 == 0 {
			f.Allow = []string{"198.51.100.9"}
		}
		must(t, flagfile.Write(s.path("maintenance"), f))
		start := time.Now()
		for !s.acked("default", "maintenance") {
			if time.Since(start) > time.Second {
				t.Fatalf("change %d not acknowledged after 1s", i)
			}
			time.Sleep(20 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("flag written -> acknowledged, 100 changes: median %v, p90 %v, max %v", lat[50], lat[90], lat[99])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
