package tests

import (
	"slices"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// TestBenchFleet measures the fleet's switch time (issue 14's goal:
// every host within 1 s, p50 within 100 ms): MAINTGATE_FLEET_HOSTS maps
// (100), one redis-server with a password, and MAINTGATE_FLEET_REPEATS
// rounds (20) of on then off from one host. For each command it records
// the time from the command's return to the last host answering the new
// way, and the median host's. The hosts are asked in turn, as fast as
// they answer, so a time holds up to one sweep of the hosts (about
// 100 × a round trip): "sweep" is that floor, measured without a
// change. Run by bench/fleet/run.sh; records go to
// bench/results/fleet.jsonl.
func TestBenchFleet(t *testing.T) {
	benchOnly(t)
	n := benchEnvInt("MAINTGATE_FLEET_HOSTS", 100)
	repeats := benchEnvInt("MAINTGATE_FLEET_REPEATS", 20)
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	hosts := make([]*fleetHost, n)
	for i := range hosts {
		hosts[i] = newFleetHost(t, r.URL, "30s")
		hosts[i].m = startMap(t, hosts[i].site)
	}
	op := hosts[0]
	var outputs []string
	mustMG(t, op, &outputs, 0, "off")
	switched(t, hosts, "allow", time.Now(), 5*time.Second)
	w := newBenchWriter(t, "fleet")
	last := map[string][]time.Duration{}
	for round := range repeats {
		// The floor: one sweep asking every host once, no change.
		t0 := time.Now()
		switched(t, hosts, "allow", t0, time.Second)
		last["sweep"] = append(last["sweep"], time.Since(t0))
		for _, c := range []struct{ cmd, want string }{{"on", "redirect"}, {"off", "allow"}} {
			mustMG(t, op, &outputs, 0, c.cmd)
			at := switched(t, hosts, c.want, time.Now(), 10*time.Second)
			slices.Sort(at)
			last[c.cmd] = append(last[c.cmd], at[len(at)-1])
			w.write(t, map[string]any{"part": "fleet", "round": round, "command": c.cmd, "hosts": n,
				"last_ms": fleetMS(at[len(at)-1]), "median_host_ms": fleetMS(at[len(at)/2])})
		}
	}
	for _, cmd := range []string{"sweep", "on", "off"} {
		d := last[cmd]
		slices.Sort(d)
		t.Logf("%s, %d hosts, %d rounds: p50 %.1f ms, max %.1f ms", cmd, n, len(d), fleetMS(d[len(d)/2]), fleetMS(d[len(d)-1]))
		w.write(t, map[string]any{"part": "fleet", "summary": cmd, "hosts": n, "rounds": len(d),
			"p50_ms": fleetMS(d[len(d)/2]), "max_ms": fleetMS(d[len(d)-1])})
	}
}

func fleetMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
