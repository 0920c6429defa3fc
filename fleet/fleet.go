// Package fleet keeps the maintenance switches of many hosts in step
// through one Redis (DESIGN.md, "Fleet"). `maintgate on/off` and the
// panel write a site's flag bytes to Redis before any local file (a
// Redis that cannot be written stops the change: the fleet never
// splits); every `maintgate map` mirrors Redis into its own local flag
// files, and the map's watcher, the checker and `status` go on reading
// those files. Nothing here runs on the map's answer path.
//
// The package is split by job:
//
//	fleet.go   keys, the client's options (ca_file), errors that never hold the password
//	store.go   Store: Flags and Apply for on/off, read for the mirror, List for status --fleet
//	mirror.go  Mirror: the map's subscriber (events, resync, backoff, one log line per outage)
//	follow.go  the subscription's connection: a hung or half-open one is noticed (pings)
//	apply.go   writing what Redis holds into the local flag files
//	link.go    the link status file the mirror writes beside the state map for `status`
//	reload.go  the WARN when a reload changes what the running mirror follows
package fleet

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/maintgate/maintgate/config"
)

func init() {
	// go-redis logs its dial and reconnect failures to stderr, which is
	// Apache's error log under the map: a line per retry. The mirror
	// logs an outage once itself.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Keys are the names of maintgate's keys and channel under one prefix
// ([fleet] key).
type Keys struct{ Prefix string }

// Flag is the key holding a site's flag bytes; absent: the site is off.
func (k Keys) Flag(site string) string { return k.Prefix + ":flag:" + site }

// Written is the marker every on/off sets (a timestamp): a Redis without
// it has lost maintgate's keys, and its silence is no order to reopen.
func (k Keys) Written() string { return k.Prefix + ":written" }

// SiteWritten is the marker every on/off of site sets (a timestamp):
// without it an absent KEY:flag:SITE is no order to reopen the site
// (Redis lost its data since, or the fleet never switched that site).
func (k Keys) SiteWritten(site string) string { return k.Prefix + ":written:" + site }

// Events is the channel on/off publish on after each change.
func (k Keys) Events() string { return k.Prefix + ":events" }

// Timeouts of one Redis command. A command line waits a few seconds at
// most before it says Redis is unreachable; the mirror retries anyway.
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second
)

// Enabled says whether the configuration names a fleet.
func Enabled(cfg *config.Config) bool { return cfg.Fleet.Redis != "" }

// conn is a Redis client with the names used in its errors: the URL
// without its password, and the password to scrub from any text.
type conn struct {
	c      *redis.Client
	keys   Keys
	shown  string // config.RedactURL of the URL
	secret string
}

// dial makes the client for cfg's [fleet]; it does not connect yet.
// Its error never quotes the URL (go-redis's does: url.Parse's error
// holds the whole string).
func dial(f config.Fleet) (*conn, error) {
	shown := config.RedactURL(f.Redis)
	u, perr := url.Parse(f.Redis)
	secret := ""
	if perr == nil {
		secret, _ = u.User.Password()
	}
	opt, err := redis.ParseURL(f.Redis)
	if err != nil || perr != nil {
		return nil, fmt.Errorf("fleet: [fleet] redis %s is not a Redis URL like redis://[:password@]host:6379/0 or rediss://…", shown)
	}
	if f.CAFile != "" && opt.TLSConfig != nil {
		roots, err := loadCAs(f.CAFile)
		if err != nil {
			return nil, err
		}
		opt.TLSConfig.RootCAs = roots
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	opt.MaxRetries = 1
	opt.PoolSize = 2
	// RESP2: the plainest protocol, spoken by every Redis (and the
	// compatible servers teams run) the same way.
	opt.Protocol = 2
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &conn{c: redis.NewClient(opt), keys: Keys{Prefix: f.Key}, shown: shown, secret: secret}, nil
}

// loadCAs reads [fleet] ca_file: its CAs replace the system's for the
// Redis server's certificate, as redis-cli --cacert does. A private CA
// added to the system's would let any public CA vouch for the Redis
// host's name too.
func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("fleet: [fleet] ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("fleet: [fleet] ca_file %s holds no PEM certificate", file)
	}
	return roots, nil
}

func (c *conn) Close() error { return c.c.Close() }

// Error is a failed Redis operation. Its text names the Redis by its URL
// without the password, and any occurrence of the password is scrubbed,
// so it may go to a log, to status and to the operator's terminal.
type Error struct {
	URL    string // redacted
	Op     string
	Err    error
	secret string
}

func (e *Error) Error() string {
	return Scrub(fmt.Sprintf("fleet Redis %s: %s: %v", e.URL, e.Op, e.Err), e.secret)
}

func (e *Error) Unwrap() error { return e.Err }

func (c *conn) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{URL: c.shown, Op: op, Err: err, secret: c.secret}
}

// Scrub replaces every occurrence of secret in s (also as URL-escaped
// forms) with "xxxxx". The texts it guards come from the network
// library and should never hold the password; this is the second lock.
func Scrub(s, secret string) string {
	if secret == "" {
		return s
	}
	for _, v := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.UserPassword("", secret).String()[1:]} {
		if v != "" {
			s = strings.ReplaceAll(s, v, "xxxxx")
		}
	}
	return s
}
