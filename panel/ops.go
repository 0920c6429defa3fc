package panel

import (
	"context"
	"errors"
	"fmt"
	"github.com/maintgate/maintgate/internal/regfile"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/authz"
	"github.com/maintgate/maintgate/authz/explain"
	"github.com/maintgate/maintgate/authz/session/settings"
	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/gate"
	"github.com/maintgate/maintgate/rewritemap"
	"github.com/maintgate/maintgate/whitelist"
)

// ops.go: what the API and the page's forms share. Every change is made
// by package control (on, off) or here by one rename (the whitelist),
// and audited with the signed-in user's name.

// inputError is a request that is wrong: nothing was changed (400).
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// statusOf is the HTTP status of an operation's error.
func statusOf(err error) int {
	var ie *inputError
	var ce *control.InputError
	if errors.As(err, &ie) || errors.As(err, &ce) {
		return http.StatusBadRequest
	}
	if errors.Is(err, control.ErrConflict) {
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func (s *Server) controller(u User) *control.Controller {
	return &control.Controller{Config: s.cfg, Actor: control.Actor{Who: u.Name, Via: "panel"}, Remote: s.opts.Remote, Now: s.opts.Now}
}

// onRequest is api/on's body and the page's form: the whole window.
type onRequest struct {
	Site       string   `json:"site"`
	Message    string   `json:"message"`
	Until      string   `json:"until"`
	Start      string   `json:"start"`
	Allow      []string `json:"allow"`
	AllowPaths []string `json:"allow_paths"`
	// AllowMe adds the caller's address, as Apache sees it, to Allow:
	// "let my current address through".
	AllowMe bool `json:"allow_me"`
}

// sitesOf is the site named, or the server-wide switch.
func sitesOf(site string) []string {
	if site = strings.TrimSpace(site); site == "" {
		return nil
	}
	return []string{site}
}

// turnOn switches maintenance on with exactly the window asked for
// (Clear: fields not given are dropped, as the form shows them all).
func (s *Server) turnOn(ctx context.Context, rc *reqCtx, req onRequest) (control.Result, error) {
	allow := nonEmpty(req.Allow)
	if req.AllowMe {
		if !rc.client.IsValid() {
			return control.Result{}, badInput("your address is unknown to the panel, so it cannot be let through")
		}
		if a := rc.client.String(); !slices.Contains(allow, a) {
			allow = append(allow, a)
		}
	}
	ch := control.Change{
		Message: strings.TrimSpace(req.Message), Until: req.Until, Start: req.Start,
		Allow: allow, AllowPaths: nonEmpty(req.AllowPaths), Clear: true,
		Set: map[string]bool{"message": true, "until": true, "start": true, "allow": true, "allow_paths": true},
	}
	return s.controller(rc.user).On(ctx, sitesOf(req.Site), ch)
}

func (s *Server) turnOff(ctx context.Context, rc *reqCtx, site string) (control.Result, error) {
	return s.controller(rc.user).Off(ctx, sitesOf(site))
}

func nonEmpty(in []string) []string {
	out := []string{}
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// lineError is one bad line of a whitelist.
type lineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// whitelistView is the whitelist file as the map reads it.
type whitelistView struct {
	File    string   `json:"file"`
	Text    string   `json:"text"`
	Entries []string `json:"entries"`
	// Config are the entries of the config's own whitelist key, which
	// the panel shows but does not edit.
	Config []string `json:"config_entries"`
}

var errNoWhitelistFile = errors.New("whitelist_file is not set in the config: the panel edits that file (the config's own whitelist key is edited in the config)")

func (s *Server) readWhitelist() (whitelistView, error) {
	v := whitelistView{File: s.cfg.WhitelistFile, Entries: []string{}, Config: s.cfg.Whitelist}
	if v.File == "" {
		return v, errNoWhitelistFile
	}
	b, err := regfile.Read(v.File, maxWhitelistText)
	if errors.Is(err, fs.ErrNotExist) {
		return v, nil
	}
	if err != nil {
		return v, fmt.Errorf("whitelist: %w", err)
	}
	v.Text = string(b)
	l, _, _ := whitelist.Parse(strings.NewReader(v.Text), v.File)
	v.Entries = prefixStrings(l)
	return v, nil
}

func prefixStrings(l *whitelist.List) []string {
	out := []string{}
	for _, p := range l.Prefixes() {
		out = append(out, p.String())
	}
	return out
}

// checkWhitelist parses text with the map's own parser: the errors by
// line, and the list when there are none.
func checkWhitelist(text, name string) (*whitelist.List, []lineError) {
	l, probs, err := whitelist.Parse(strings.NewReader(text), name)
	if err != nil {
		return nil, []lineError{{Line: 0, Message: err.Error()}}
	}
	var errs []lineError
	for _, p := range probs {
		errs = append(errs, lineError{Line: p.Line, Message: p.Err.Error()})
	}
	return l, errs
}

// replaceWhitelist replaces the whitelist file with text, by rename,
// only when every line is valid; the map reloads it within 0.1 s. The
// audit line says which entries were added and removed.
func (s *Server) replaceWhitelist(rc *reqCtx, text string) ([]lineError, []string, error) {
	s.wlMu.Lock()
	defer s.wlMu.Unlock()
	old, err := s.readWhitelist()
	if err != nil {
		return nil, nil, err
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if len(text) > maxWhitelistText {
		return nil, nil, badInput("the whitelist text is %d bytes; at most %d (the panel could not read it back): the whitelist file is unchanged", len(text), maxWhitelistText)
	}
	l, errs := checkWhitelist(text, old.File)
	if len(errs) > 0 {
		return errs, nil, nil
	}
	path, mode := old.File, os.FileMode(0o644)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // keep a symlink the operator made
	}
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := flagfile.WriteAtomic(path, []byte(text), mode); err != nil {
		return nil, nil, fmt.Errorf("whitelist: %w", err)
	}
	now := prefixStrings(l)
	d := map[string]any{"file": old.File, "entries": len(now)}
	// A few entries and the counts: an audit line over audit.Latest's
	// limit would hide itself from the page and api/audit.
	if add := minus(now, old.Entries); len(add) > 0 {
		d["added"], d["added_count"] = add[:min(len(add), auditEntries)], len(add)
	}
	if rm := minus(old.Entries, now); len(rm) > 0 {
		d["removed"], d["removed_count"] = rm[:min(len(rm), auditEntries)], len(rm)
	}
	return nil, s.audit(rc, "whitelist", "", d), nil
}

// auditEntries is how many added or removed entries a whitelist change's
// audit line lists.
const auditEntries = 20

// whitelistStatus is the HTTP status of replaceWhitelist's error.
func whitelistStatus(err error) int {
	if err == errNoWhitelistFile {
		return http.StatusConflict
	}
	return statusOf(err)
}

func minus(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

// audit appends one line for a change the panel made itself; a failure
// is a warning for the caller (the change is made).
func (s *Server) audit(rc *reqCtx, action, site string, details map[string]any) []string {
	if !control.Audited(s.cfg) {
		return nil
	}
	e := audit.Entry{Time: s.now(), Who: rc.user.Name, Via: "panel", Action: action, Site: site, Details: details}
	if err := audit.Append(s.cfg.Panel.AuditLog, e); err != nil {
		s.log.Warn().Err(err).Str("action", action).Msg("change made but not recorded in the audit log")
		return []string{fmt.Sprintf("%v: the change is made but not recorded", err)}
	}
	return nil
}

// checkRequest is api/check's body: a request as Apache would ask about
// it. Empty IP is the caller's address.
type checkRequest struct {
	IP     string `json:"ip"`
	Path   string `json:"path"`
	XFF    string `json:"xff"`
	Cookie string `json:"cookie"`
	Site   string `json:"site"`
}

type checkResponse struct {
	Allow  bool   `json:"allow"`
	Answer string `json:"answer"` // "allow" or "redirect"
	Reason string `json:"reason"` // the sentence `maintgate check` prints
	Site   string `json:"site"`
	IP     string `json:"ip"`
}

// check decides req as the map would, with a gate opened for it as
// `maintgate check` opens one (flags read now, the session store waited
// for as long as a query may take).
func (s *Server) check(rc *reqCtx, req checkRequest) (checkResponse, error) {
	if req.Site == "" {
		req.Site = config.DefaultSite
	}
	if _, err := s.cfg.FlagFileOf(req.Site); err != nil {
		return checkResponse{}, badInput("%v", err)
	}
	peer := rc.client
	if strings.TrimSpace(req.IP) != "" {
		a, err := rewritemap.ParseAddr(strings.TrimSpace(req.IP))
		if err != nil {
			return checkResponse{}, badInput("ip %q: %v", req.IP, err)
		}
		peer = a.Unmap()
	}
	if req.Path == "" {
		req.Path = "/"
	}
	if !strings.HasPrefix(req.Path, "/") {
		return checkResponse{}, badInput("path %q must start with /", req.Path)
	}
	g, err := gate.Open(gate.Options{ConfigPath: s.cfg.Path, SessionWait: settings.QueryTimeout})
	if err != nil {
		return checkResponse{}, err
	}
	defer g.Close()
	d := g.DecideSite(req.Site, authz.Request{Peer: peer, Path: req.Path, XFF: req.XFF, Cookie: req.Cookie})
	r := checkResponse{Allow: d.Allow, Answer: "redirect", Reason: explain.Decision(d, authz.CleanPath(req.Path)), Site: req.Site, IP: peer.String()}
	if d.Allow {
		r.Answer = "allow"
	}
	return r, nil
}

// tokenRequest is api/token's body: ttl as Go writes durations ("8h").
type tokenRequest struct {
	TTL   string `json:"ttl"`
	Label string `json:"label"`
}

type tokenResponse struct {
	Token   string    `json:"token"`
	URL     string    `json:"url"`
	Cookie  string    `json:"cookie"`
	Label   string    `json:"label"`
	Expires time.Time `json:"expires"`
}

// maxTTL bounds a token's life from the panel: a bearer secret handed
// around by copy and paste should not outlive a long weekend by much.
const maxTTL = 30 * 24 * time.Hour

// issueToken issues a bypass token and the bypass URL of the shipped
// vhost snippet (/maintgate-bypass?token=…) on the host the panel was
// reached by. The audit line has the label and expiry, never the token.
func (s *Server) issueToken(r *http.Request, rc *reqCtx, req tokenRequest) (tokenResponse, []string, error) {
	ttl := 8 * time.Hour
	if t := strings.TrimSpace(req.TTL); t != "" {
		var err error
		if ttl, err = time.ParseDuration(t); err != nil {
			return tokenResponse{}, nil, badInput("ttl %q is not a duration like 8h or 90m", req.TTL)
		}
	}
	if ttl <= 0 || ttl > maxTTL {
		return tokenResponse{}, nil, badInput("ttl %s: must be positive and at most %s", ttl, maxTTL)
	}
	if s.cfg.Token.KeyFile == "" {
		return tokenResponse{}, nil, badInput("token.key_file is not set in the config, so bypass tokens are off")
	}
	key, err := token.LoadKey(s.cfg.Token.KeyFile)
	if err != nil {
		return tokenResponse{}, nil, err
	}
	now := s.now()
	v, err := token.Issue(key, req.Label, now, now.Add(ttl))
	if err != nil {
		return tokenResponse{}, nil, badInput("%v", err)
	}
	resp := tokenResponse{Token: v, URL: s.siteURL(r) + "/maintgate-bypass?token=" + v, Cookie: s.cfg.Token.Cookie,
		Label: req.Label, Expires: now.Add(ttl).UTC().Truncate(time.Second)}
	w := s.audit(rc, "token", "", map[string]any{"label": req.Label, "ttl": ttl.String(), "expires": resp.Expires.Format(time.RFC3339)})
	return resp, w, nil
}

// siteURL is scheme://host the browser used. The host is the request's
// Host: the shipped maintgate-panel.conf has ProxyPreserveHost On, and
// X-Forwarded-Host is not believed, since its first value is the
// client's own (Apache appends its value after it). The scheme is the
// last X-Forwarded-Proto value, the one Apache set, from Apache only.
func (s *Server) siteURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if s.peerTrusted(r) {
		if p := lastValue(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
			scheme = p
		}
	}
	return scheme + "://" + r.Host
}

func lastValue(h string) string {
	return strings.TrimSpace(h[strings.LastIndexByte(h, ',')+1:])
}

// peerTrusted: the connection comes from Apache (or a trusted proxy).
func (s *Server) peerTrusted(r *http.Request) bool {
	if s.opts.UnixSocket {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && s.trusted.Contains(ap.Addr().Unmap())
}
