package authz

// Verdict is what the decision needs from a session cookie. It is defined
// here, where the decision lives, so that this package links no database
// driver: the session stores (authz/session) depend on it, not the other
// way round.
type Verdict struct {
	Pass   bool   // a rule of [session] allow lets the user through; Reason names it
	UserID string // Django user id, when known
	Reason string // short and operator-readable
	Cached bool   // the answer came from the cache
}
