package lockout

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	t0      = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	office  = netip.MustParseAddr("203.0.113.7")
	office2 = netip.MustParseAddr("203.0.113.8")
)

// fail makes n failed attempts (Begin, and nothing after) one second apart.
func fail(t *testing.T, r *Record, user string, addr netip.Addr, from time.Time, n int) {
	t.Helper()
	for i := range n {
		if _, err := r.Begin(user, addr, from.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("attempt %d for %q: %v", i+1, user, err)
		}
	}
}

func wantLocked(t *testing.T, err error, scope Scope) *LockedError {
	t.Helper()
	var le *LockedError
	if !errors.As(err, &le) || le.Scope != scope {
		t.Fatalf("got %v, want a lockout by %v", err, scope)
	}
	return le
}

func TestUserLockedAfterFiveFailuresUntilWindowPasses(t *testing.T) {
	r := New(t.TempDir())
	fail(t, r, "admin", office, t0, 5)
	_, err := r.Begin("admin", office2, t0.Add(time.Minute))
	le := wantLocked(t, err, ByUser)
	if want := t0.Add(15 * time.Minute); !le.Until.Equal(want) || le.Failures != 5 {
		t.Errorf("locked: %d failures until %v, want 5 until %v", le.Failures, le.Until, want)
	}
	for _, s := range []string{"5 failed passwords for this user name within 15m0s", "refused unverified until 2026-12-01T06:15:00Z"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	// Another user name from the same address is not locked.
	if _, err := r.Begin("alice", office, t0.Add(time.Minute)); err != nil {
		t.Errorf("another user name: %v", err)
	}
	// One failure leaves the window at 06:15:00: one more attempt.
	if _, err := r.Begin("admin", office, t0.Add(15*time.Minute)); err != nil {
		t.Errorf("after the first failure left the window: %v", err)
	}
	_, err = r.Begin("admin", office, t0.Add(15*time.Minute+time.Millisecond))
	wantLocked(t, err, ByUser)
}

func TestAddressLockedAfterTwentyFailures(t *testing.T) {
	r := New(t.TempDir())
	for i := range 20 {
		fail(t, r, fmt.Sprintf("user%d", i), office, t0, 1)
	}
	_, err := r.Begin("someone-new", office, t0.Add(time.Second))
	wantLocked(t, err, ByAddr)
	if _, err := r.Begin("someone-new", office2, t0.Add(time.Second)); err != nil {
		t.Errorf("another address: %v", err)
	}
}

func TestIPv6CountsPerSlash64(t *testing.T) {
	r := New(t.TempDir())
	for i := range 20 {
		a := netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1))
		fail(t, r, fmt.Sprintf("user%d", i), a, t0, 1)
	}
	_, err := r.Begin("x", netip.MustParseAddr("2001:db8:1:2:ffff::1"), t0)
	wantLocked(t, err, ByAddr)
	if _, err := r.Begin("x", netip.MustParseAddr("2001:db8:1:3::1"), t0); err != nil {
		t.Errorf("the next /64: %v", err)
	}
}

func TestSucceededForgetsTheUsersFailures(t *testing.T) {
	r := New(t.TempDir())
	fail(t, r, "admin", office, t0, 4)
	a, err := r.Begin("admin", office, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Succeeded(); err != nil {
		t.Fatal(err)
	}
	// Five more mistakes are allowed again before the lockout.
	fail(t, r, "admin", office, t0.Add(2*time.Minute), 5)
	_, err = r.Begin("admin", office, t0.Add(3*time.Minute))
	wantLocked(t, err, ByUser)
}

func TestVoidTakesTheAttemptOut(t *testing.T) {
	r := New(t.TempDir())
	for range 10 {
		a, err := r.Begin("admin", office, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Void(); err != nil {
			t.Fatal(err)
		}
	}
	fail(t, r, "admin", office, t0, 5)
}

// Guesses sent at once are counted before any is verified: twenty
// processes (here goroutines, each with its own lock file description)
// get five attempts between them.
func TestParallelGuessesCountedBeforeVerification(t *testing.T) {
	r := New(t.TempDir())
	var wg sync.WaitGroup
	var mu sync.Mutex
	begun, locked := 0, 0
	for range 20 {
		wg.Go(func() {
			_, err := r.Begin("admin", office, t0)
			mu.Lock()
			defer mu.Unlock()
			var le *LockedError
			switch {
			case err == nil:
				begun++
			case errors.As(err, &le):
				locked++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if begun != 5 || locked != 15 {
		t.Errorf("%d attempts verified, %d refused; want 5 and 15", begun, locked)
	}
}

func TestRecordIsBounded(t *testing.T) {
	dir := t.TempDir()
	r := New(dir)
	r.MaxEntries = 30
	for i := range 30 {
		a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		fail(t, r, fmt.Sprintf("u%d", i), a, t0, 1)
	}
	_, err := r.Begin("admin", office, t0.Add(time.Second))
	le := wantLocked(t, err, Full)
	if want := t0.Add(15 * time.Minute); !le.Until.Equal(want) {
		t.Errorf("full until %v, want %v", le.Until, want)
	}
	// The window passes: the old failures are dropped from the file.
	fail(t, r, "admin", office, t0.Add(16*time.Minute), 1)
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Errorf("record holds %d lines after the window, want 1:\n%s", n, b)
	}
}

func TestRecordKeepsNoUserName(t *testing.T) {
	dir := t.TempDir()
	r := New(dir)
	fail(t, r, "correct horse battery staple", office, t0, 1)
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "horse") {
		t.Errorf("record keeps the typed user name: %q", b)
	}
}

// A file it did not write (garbage, an endless line, a huge file) is
// read within a bound and replaced by a clean one.
func TestRecordSurvivesGarbage(t *testing.T) {
	dir := t.TempDir()
	junk := strings.Repeat("x", 3<<20) + "\n" + "12 a\nnot a number x y\n"
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(junk), 0o600); err != nil {
		t.Fatal(err)
	}
	r := New(dir)
	fail(t, r, "admin", office, t0, 5)
	_, err := r.Begin("admin", office, t0)
	wantLocked(t, err, ByUser)
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 1000 {
		t.Errorf("record after rewrite: %d bytes, want the 5 entries alone", fi.Size())
	}
}

func TestUnusableDirectoryIsAnError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(filepath.Join(f, "authz")).Begin("admin", office, t0)
	var le *LockedError
	if err == nil || errors.As(err, &le) || !strings.Contains(err.Error(), "failure record") {
		t.Errorf("got %v, want a failure record error", err)
	}
}
