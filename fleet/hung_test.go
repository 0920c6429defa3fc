package fleet

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// hungServer accepts connections and never answers: a hung Redis.
func hungServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestHungRedisIsAnOutage: a Redis that accepts and never answers is an
// outage, said within a few seconds (not at the next resync, 20 s here):
// one log line, the link file says not connected and why, and the local
// flag file stays as it was. Before, a read timeout was taken for a quiet
// channel: nothing was logged and no link file written for 9 s.
func TestHungRedisIsAnOutage(t *testing.T) {
	cfg := host(t, "redis://:pw@"+hungServer(t)+"/0", "20s")
	shop, _ := cfg.FlagFileOf("shop")
	flag := []byte("message = \"local\"\n")
	if err := os.WriteFile(shop, flag, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := startMirror(t, cfg)
	eventually(t, "the link file says Redis does not answer", 7*time.Second, func() bool {
		l, err := ReadLink(LinkPath(cfg))
		return err == nil && !l.Connected && strings.Contains(l.LastError, "Redis does not answer")
	})
	time.Sleep(3 * time.Second) // more attempts: still one line
	if n := strings.Count(logs.String(), "Redis unreachable"); n != 1 {
		t.Errorf("the outage logged %d times, want once:\n%s", n, logs)
	}
	if !fileIs(shop, flag)() {
		t.Errorf("the local flag file changed while Redis hung")
	}
}

// freezer is a TCP proxy to Redis whose freeze stops forwarding, either
// way, the subscription connections open at that moment (those that sent
// SUBSCRIBE): half-open connections, while the other commands and the
// connections made afterwards pass.
type freezer struct {
	target string
	mu     sync.Mutex
	subs   []*atomic.Bool
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.subs {
		s.Store(true)
	}
}

func (f *freezer) serve(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.pipe(c)
		}
	}()
	return l.Addr().String()
}

func (f *freezer) pipe(c net.Conn) {
	defer c.Close()
	r, err := net.Dial("tcp", f.target)
	if err != nil {
		return
	}
	defer r.Close()
	var sub bool
	frozen := new(atomic.Bool)
	copyUnlessFrozen := func(dst io.Writer, src io.Reader, up bool) {
		buf := make([]byte, 4096)
		for {
			n, err := src.Read(buf)
			if err != nil {
				c.Close()
				r.Close()
				return
			}
			if up && !sub && strings.Contains(strings.ToLower(string(buf[:n])), "subscribe") {
				sub = true
				f.mu.Lock()
				f.subs = append(f.subs, frozen)
				f.mu.Unlock()
			}
			if frozen.Load() {
				continue
			}
			dst.Write(buf[:n])
		}
	}
	go copyUnlessFrozen(c, r, false)
	copyUnlessFrozen(r, c, true)
}

// TestHalfOpenSubscriptionIsNoticed: the subscription's connection stops
// carrying anything while Redis itself still answers the reads. The ping
// sent at each resync gets no answer: the mirror says so, drops that
// connection and makes a new one, and events flow again. Before, the
// ping's answer was never awaited and events were lost without a word.
func TestHalfOpenSubscriptionIsNoticed(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{})
	fz := &freezer{target: net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))}
	url := strings.Replace(r.URL, fz.target, fz.serve(t), 1)
	cfg := host(t, url, "1s")
	logs := startMirror(t, cfg)
	eventually(t, "subscribed", 3*time.Second, func() bool {
		l, err := ReadLink(LinkPath(cfg))
		return err == nil && l.Connected && l.Events == "subscribed"
	})
	fz.freeze()
	eventually(t, "the link file says Redis does not answer", 5*time.Second, func() bool {
		l, err := ReadLink(LinkPath(cfg))
		return err == nil && strings.Contains(l.LastError, "Redis does not answer")
	})
	if n := strings.Count(logs.String(), "Redis unreachable"); n != 1 {
		t.Errorf("the outage logged %d times, want once:\n%s", n, logs)
	}
	// The new connection passes: events reach the host again.
	st, err := Open(host(t, r.URL, "1s").Fleet)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eventually(t, "reachable again", 5*time.Second, func() bool { return strings.Contains(logs.String(), "reachable again") })
	shop, _ := cfg.FlagFileOf("shop")
	flag := []byte("message = \"fleet\"\n")
	if err := st.Put(t.Context(), "shop", flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shop switched by the event", 500*time.Millisecond, fileIs(shop, flag))
}

// TestCAFile: with [fleet] ca_file naming the test CA, the store and the
// mirror reach a rediss:// Redis whose certificate only that CA signs;
// without it the system's CAs do not vouch for it and on fails; a
// ca_file that cannot be read is said by its key.
func TestCAFile(t *testing.T) {
	r := testsvc.NewRedis(t, testsvc.RedisOptions{TLS: true})
	t.Setenv("SSL_CERT_FILE", "") // the system's CAs only, whatever the caller's environment
	cfg := host(t, r.URL, "1s")
	if st, err := Open(cfg.Fleet); err != nil {
		t.Fatal(err)
	} else {
		if err := st.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("without ca_file: %v, want a certificate error", err)
		}
		st.Close()
	}
	cfg.Fleet.CAFile = r.CAFile
	logs := startMirror(t, cfg)
	st := openStore(t, cfg)
	shop, _ := cfg.FlagFileOf("shop")
	flag := []byte("message = \"tls\"\n")
	if err := st.Put(t.Context(), "shop", flag); err != nil {
		t.Fatal(err)
	}
	eventually(t, "shop switched over TLS", 2*time.Second, fileIs(shop, flag))
	if strings.Contains(logs.String(), "unreachable") {
		t.Errorf("the mirror could not reach Redis:\n%s", logs)
	}
	bad := cfg.Fleet
	bad.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("a missing ca_file: %v, want an error naming ca_file", err)
	}
}
