package fleet

import (
	"context"
	"io"
	"testing"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/internal/testsvc"
)

// BenchmarkSyncSwitch is a mirror's work for one change of the fleet,
// event aside: read every key, write or remove the flag file, the log
// line, the link file. Each iteration switches the server-wide flag.
func BenchmarkSyncSwitch(b *testing.B) {
	r := testsvc.NewRedis(b, testsvc.RedisOptions{})
	cfg := hostB(b, r.URL)
	log := zerolog.New(io.Discard)
	m, err := NewMirror(cfg, &log)
	if err != nil {
		b.Fatal(err)
	}
	st, err := Open(cfg.Fleet)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	flag := []byte("message = \"m\"\n")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if i%2 == 0 {
			st.Put(ctx, "default", flag)
		} else {
			st.Delete(ctx, "default")
		}
		b.StartTimer()
		m.sync(ctx, "event")
	}
}
