// Package panel is `maintgate panel`: the web control panel and the JSON
// API its page uses, so every button is also a curl. It changes nothing
// itself that the gate reads while it runs: switches go through package
// control (flag files, state map, pages, audit line), the whitelist file
// is replaced whole by rename, and the map's counters are only read. A
// panel that crashes or is stopped leaves the gate exactly as it was.
//
// Files, by job:
//
//	panel.go     Server, Options: New, Handler, the routes, Close
//	middleware.go  sign-in, the client address behind Apache, headers
//	auth.go      who may operate: a Django superuser session, htpasswd
//	htpasswd.go  the htpasswd file: bcrypt lines, re-read when it changes
//	ops.go       what the API and the forms share: on, off, whitelist,
//	             check, token, each change audited
//	api.go       the JSON API (DESIGN.md, "The control panel")
//	pages.go     the HTML page and its forms (work without JavaScript)
//	stats.go     stats_file: parsed, and an hour of it kept in memory
//	chart.go     the server-rendered SVG chart of the last hour
package panel

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/whitelist"
)

//go:embed assets
var assets embed.FS

// Options configure a Server.
type Options struct {
	Config *config.Config
	// Remote is the fleet's store, passed to every change (nil: this
	// host only).
	Remote control.Remote
	Logger *zerolog.Logger
	// Now overrides the clock (tests).
	Now func() time.Time
	// SampleEvery is how often stats_file is read; 0 is the map's own
	// interval, 10 s.
	SampleEvery time.Duration
	// UnixSocket: the panel listens on a socket, so every peer is a
	// process of this host (Apache), trusted for X-Forwarded-For.
	UnixSocket bool
}

// Server is the panel.
type Server struct {
	opts    Options
	cfg     *config.Config
	log     *zerolog.Logger
	now     func() time.Time
	auth    *authenticator
	trusted *whitelist.List // loopback and trusted_proxies
	hist    history
	pages   *template.Template
	wlMu    sync.Mutex // one whitelist replacement at a time
	handler http.Handler
	cancel  context.CancelFunc
	done    chan struct{}
}

// New checks the configuration and opens what sign-in needs; it starts
// sampling stats_file. Close stops it.
func New(ctx context.Context, o Options) (*Server, error) {
	s := &Server{opts: o, cfg: o.Config, log: o.Logger, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		nop := zerolog.Nop()
		s.log = &nop
	}
	var err error
	if s.auth, err = newAuthenticator(ctx, s.cfg, s.log, s.now); err != nil {
		return nil, err
	}
	// Apache's ProxyPass connects from this host; a proxy in front of
	// Apache appends to X-Forwarded-For only if the operator trusts it.
	s.trusted, _ = whitelist.New(append([]string{"127.0.0.0/8", "::1"}, s.cfg.TrustedProxies...), s.cfg.Path, "trusted_proxies")
	if s.pages, err = parsePages(); err != nil {
		s.auth.close()
		return nil, err
	}
	s.handler = s.routes()
	every := o.SampleEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	sctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		s.hist.run(sctx, s.cfg.StatsFile, every)
	}()
	return s, nil
}

// Handler is the panel's HTTP handler, rooted at / (Apache strips its
// /maintgate/ prefix; every link the page makes is relative).
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops sampling and closes the session store.
func (s *Server) Close() {
	s.cancel()
	<-s.done
	s.auth.close()
}

// routes: method-qualified patterns, so a wrong method is a 405 (with
// Allow) from the mux itself; cross-origin state changes are refused
// before anything else runs.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// The stylesheet and the script only: the templates stay unpublished.
	for _, f := range []string{"panel.css", "panel.js"} {
		mux.HandleFunc("GET /assets/"+f, func(w http.ResponseWriter, r *http.Request) {
			http.ServeFileFS(w, r, assets, "assets/"+f)
		})
	}
	mux.Handle("GET /{$}", s.page(s.index))
	mux.Handle("GET /live", s.page(s.live))
	mux.Handle("GET /sites", s.page(s.sitesPart))
	mux.Handle("GET /preview", s.page(s.preview))
	mux.Handle("POST /on", s.page(s.formOn))
	mux.Handle("POST /off", s.page(s.formOff))
	mux.Handle("POST /whitelist", s.page(s.formWhitelist))
	mux.Handle("POST /check", s.page(s.formCheck))
	mux.Handle("POST /token", s.page(s.formToken))

	mux.Handle("GET /api/status", s.api(s.apiStatus))
	mux.Handle("POST /api/on", s.api(s.apiOn))
	mux.Handle("POST /api/off", s.api(s.apiOff))
	mux.Handle("GET /api/whitelist", s.api(s.apiWhitelist))
	mux.Handle("PUT /api/whitelist", s.api(s.apiPutWhitelist))
	mux.Handle("POST /api/check", s.api(s.apiCheck))
	mux.Handle("POST /api/token", s.api(s.apiToken))
	mux.Handle("GET /api/audit", s.api(s.apiAudit))
	mux.Handle("GET /metrics", s.api(s.metrics))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused: the panel changes state only for its own pages (and for clients without Origin or Sec-Fetch-Site, such as curl)", http.StatusForbidden)
	}))
	return headers(cop.Handler(mux))
}
