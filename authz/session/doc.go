// Package session answers one question for maintgate's decision: does
// this Django session cookie belong to an active user whom [session]
// allow lets through (a superuser, by default; or staff, any active user,
// a member of a Django group)?
//
// It reads the application's own Django data, with no change to the
// application: the django_session and auth_user tables of its database
// (PostgreSQL, SQLite or MySQL/MariaDB), or, for Django's signed_cookies
// session backend, the cookie itself and auth_user. It checks what Django
// checks: the session exists and has not expired, its signature and its
// _auth_user_hash are valid under SECRET_KEY or a fallback key (so a
// password change ends every older session), and the user exists, is
// active and matches a rule of allow. A group rule costs one more query
// (one JOIN of auth_user_groups and auth_group), made only when allow
// names a group and no other rule let the user through.
//
// Check runs on the path every request of the whole Apache server waits
// on (one pipe, one mutex), so the time it blocks is the time the server
// stands still. Answers are cached; a cookie that cannot be a session key
// makes no query; concurrent misses for one cookie make one lookup. A miss
// waits for its lookup (at most Options.LookupTimeout) only while the
// database is healthy, and a cookie waits at most once per
// Options.NegativeTTL; otherwise it is answered at once and its lookup,
// if it may start one, fills the cache in the background. A database that
// is down, locked or stalled is noticed once, and then costs nothing: a
// breaker pauses queries and probes in the background. Lookups are
// budgeted globally (Options.MissRate) and per client address, so that
// one source cannot spend everyone's budget.
//
// Files, one job each:
//
//	options.go   Options, their defaults (DefaultOptions, also config's) and validation
//	checker.go   Checker: Open, Check (the hot path: cache hit), Ping, Username (the panel), Close, logging
//	cache.go     the positive and negative LRU caches of answers, by SHA-256 of the cookie
//	flight.go    a miss: start a lookup or join one, wait for it or not
//	breaker.go   the database's health: pause after failures, probe, may a miss wait
//	budget.go    the lookup budgets: global token bucket and one per source address
//	failure.go   typed failure kinds (unreachable, locked, timeout, error) from driver errors
//	lookup.go    the lookup itself: Django's session load and get_user
//	allow.go     the allow rules: which one lets a user through (settings/allow.go parses them)
//	loglimit.go  at most one log line a second of each kind
//	stats.go     the counters the map writes to stats_file: lookups, cache hits, database errors
//	verifykey.go does secret_key_file verify the newest sessions (config check)
//	password.go  Django's password hashers and CheckPassword (mod_authnz_external)
//	decode.go, signing.go, secrets.go  Django's session encodings, signing and key files
//	store.go     the store interface, SQL dialects and queries
//	sqlstore.go  SQLite and MySQL/MariaDB through database/sql
//	pgstore.go   PostgreSQL through pgxpool
package session
