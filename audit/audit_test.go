package audit

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAppendLatest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if got, err := Latest(path, 5); err != nil || len(got) != 0 {
		t.Fatalf("missing log: %v %v", got, err)
	}
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i, a := range []string{"on", "whitelist", "off"} {
		if err := Append(path, Entry{Time: t0.Add(time.Duration(i) * time.Minute), Who: "alice", Via: "panel", Action: a, Site: "shop",
			Details: map[string]any{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Latest(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != "off" || got[1].Action != "whitelist" || got[0].Who != "alice" || got[0].Site != "shop" || !got[0].Time.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("Latest(2) = %+v", got)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
}

// Lines written by many processes at once stay whole: each is one write
// on an O_APPEND file.
func TestAppendConcurrentLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := Append(path, Entry{Who: "u", Via: "cli", Action: "on", Details: map[string]any{"i": i, "pad": string(make([]byte, 200))}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := Latest(path, 100)
	if err != nil || len(got) != 50 {
		t.Fatalf("got %d entries (%v), want 50", len(got), err)
	}
}

func TestLatestSkipsBadLinesAndReadsOnlyTheTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	big := make([]byte, tailBytes+100)
	for i := range big {
		big[i] = 'x'
	}
	os.WriteFile(path, append(big, []byte("\n{\"time\":\"2026-12-03T10:00:00Z\",\"who\":\"bob\",\"via\":\"cli\",\"action\":\"on\"}\nnot json\n{\"time\":")...), 0o640)
	got, err := Latest(path, 10)
	if err != nil || len(got) != 1 || got[0].Who != "bob" {
		t.Fatalf("got %+v %v", got, err)
	}
}

func TestRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := mkfifo(path); err != nil {
		t.Fatal("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() {
		if err := Append(path, Entry{Who: "u", Action: "on"}); err == nil {
			done <- nil
			return
		}
		_, err := Latest(path, 1)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a FIFO was written or read as an audit log")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Append or Latest blocked on a FIFO")
	}
}
