// Package lockout limits password guesses made through short-lived
// processes. mod_authnz_external forks `maintgate authz` for every request,
// so a count kept in memory would die with each guess: the recent failures
// live in a small file instead (record.go), read and rewritten under an
// exclusive flock by every attempt.
//
// An attempt is counted as a failure before its password is verified
// (Begin), so guesses sent in parallel are counted before any of them
// finishes; one that turns out right (Succeeded), or that never reached
// the password check (Void), is taken out again.
package lockout

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Limit allows at most Max failures within Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// The limits every Record starts with. They are constants, not config
// keys, until an operator needs another value.
var (
	// PerUser: five guesses a quarter of an hour for one user name, about
	// what a person mistyping needs, and nothing a guesser can use.
	PerUser = Limit{Max: 5, Window: 15 * time.Minute}
	// PerAddr: twenty a quarter of an hour from one client address (an
	// IPv6 /64 counts as one), so one source cannot try five passwords
	// for every user name it knows.
	PerAddr = Limit{Max: 20, Window: 15 * time.Minute}
)

// MaxEntries bounds the record (about 60 bytes an entry). While that many
// failures are recent, every attempt is refused: a flood from many
// addresses then closes password sign-in for at most one window, instead
// of pushing out the failures that lock a user name.
const MaxEntries = 4096

// Scope says which limit refused an attempt.
type Scope uint8

const (
	ByUser Scope = iota // the user name had too many failures
	ByAddr              // the client address (or its /64) had too many
	Full                // the record holds MaxEntries recent failures
)

func (s Scope) String() string {
	switch s {
	case ByUser:
		return "user name"
	case ByAddr:
		return "client address"
	}
	return "failure record"
}

// LockedError is Begin's refusal: the password was not verified.
type LockedError struct {
	Scope    Scope
	Failures int           // recent failures counted against Scope
	Window   time.Duration // the limit's window
	Until    time.Time     // when the next attempt may be verified
}

func (e *LockedError) Error() string {
	if e.Scope == Full {
		return fmt.Sprintf("%d recent failed passwords fill the failure record; every password is refused unverified until %s",
			e.Failures, e.Until.Format(time.RFC3339))
	}
	return fmt.Sprintf("%d failed passwords for this %s within %s; refused unverified until %s",
		e.Failures, e.Scope, e.Window, e.Until.Format(time.RFC3339))
}

// entry is one failure: when, from which address key, for which user key.
type entry struct {
	at   int64 // Unix nanoseconds
	addr string
	user string
}

// userKey names a user name in the record without keeping it: people type
// passwords into the user name field too.
func userKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:8])
}

// addrKey is the address, or its /64 for IPv6: one subscriber usually
// holds a whole /64, so counting single IPv6 addresses would count nothing.
func addrKey(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Attempt is a password check counted by Begin. Left alone it stays
// counted as a failure.
type Attempt struct {
	r *Record
	e entry
}

// Begin counts one password attempt for user from addr at now, before the
// password is verified. It returns a *LockedError, and records nothing,
// when a limit is already reached; any other error means the record could
// not be read or written, and the caller should refuse as well.
func (r *Record) Begin(user string, addr netip.Addr, now time.Time) (*Attempt, error) {
	e := entry{at: now.UnixNano(), addr: addrKey(addr), user: userKey(user)}
	err := r.update(now, func(es []entry) ([]entry, error) {
		if err := r.check(es, e, now); err != nil {
			return nil, err
		}
		return append(es, e), nil
	})
	if err != nil {
		return nil, err
	}
	return &Attempt{r: r, e: e}, nil
}

// check refuses e when es (already pruned) reaches a limit.
func (r *Record) check(es []entry, e entry, now time.Time) error {
	var byUser, byAddr []int64
	for _, x := range es {
		if x.user == e.user && x.at > now.Add(-r.User.Window).UnixNano() {
			byUser = append(byUser, x.at)
		}
		if x.addr == e.addr && x.at > now.Add(-r.Addr.Window).UnixNano() {
			byAddr = append(byAddr, x.at)
		}
	}
	switch {
	case len(byUser) >= r.User.Max:
		return locked(ByUser, byUser, r.User)
	case len(byAddr) >= r.Addr.Max:
		return locked(ByAddr, byAddr, r.Addr)
	case len(es) >= r.MaxEntries:
		all := make([]int64, len(es))
		for i, x := range es {
			all[i] = x.at
		}
		return locked(Full, all, Limit{Max: r.MaxEntries, Window: max(r.User.Window, r.Addr.Window)})
	}
	return nil
}

// locked builds the refusal: the next attempt may be verified once enough
// of times have left the window to bring them under l.Max.
func locked(s Scope, times []int64, l Limit) *LockedError {
	slices.Sort(times)
	first := times[len(times)-l.Max]
	return &LockedError{Scope: s, Failures: len(times), Window: l.Window, Until: time.Unix(0, first).Add(l.Window)}
}

// Succeeded takes the attempt out and forgets the user name's earlier
// failures: the person knew the password, so their typos no longer count.
// The address's other failures stay.
func (a *Attempt) Succeeded() error {
	return a.r.update(time.Unix(0, a.e.at), func(es []entry) ([]entry, error) {
		return slices.DeleteFunc(es, func(x entry) bool { return x.user == a.e.user }), nil
	})
}

// Void takes the attempt out without a verdict: the password was never
// verified (the database did not answer), so it tested nothing.
func (a *Attempt) Void() error {
	return a.r.update(time.Unix(0, a.e.at), func(es []entry) ([]entry, error) {
		if i := slices.Index(es, a.e); i >= 0 {
			es = slices.Delete(es, i, i+1)
		}
		return es, nil
	})
}
