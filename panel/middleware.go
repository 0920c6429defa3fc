package panel

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"

	"github.com/maintgate/maintgate/whitelist"
)

// middleware.go: sign-in before every handler but the assets, the
// client's address as Apache forwards it, and the headers of every
// response.

// reqCtx is what a handler knows of its request besides the request.
type reqCtx struct {
	user   User
	client netip.Addr // as Apache saw it
	// why a sign-in could not be checked (503, or 401 with Basic).
	why string
}

type handler func(w http.ResponseWriter, r *http.Request, rc *reqCtx)

// headers: nothing cached (state and tokens), nothing framed but by the
// panel itself, no referrer (a bypass URL must not leak), scripts and
// styles from the panel only.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'")
		next.ServeHTTP(w, r)
	})
}

// clientAddr is the client as Apache saw it: the peer, or, when the
// peer is Apache on this host (loopback, the unix socket) or a
// configured trusted proxy, the X-Forwarded-For walk the map itself makes
// (whitelist.ClientIP).
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	peer := netip.IPv6Loopback()
	if !s.opts.UnixSocket {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return netip.Addr{}
		}
		peer = a.Unmap()
	}
	return whitelist.ClientIP(peer, r.Header.Get("X-Forwarded-For"), s.trusted)
}

// signIn checks the request's credentials: ok (code 0), or the status to
// answer. A session the database could not check is no refusal: 401 with
// the Basic challenge when htpasswd is on (the operator falls back to
// it), else 503; rc.why says what failed.
func (s *Server) signIn(r *http.Request) (rc *reqCtx, code int) {
	rc = &reqCtx{client: s.clientAddr(r)}
	u, v, why := s.auth.check(r, rc.client)
	switch v {
	case signedIn:
		rc.user = u
		return rc, 0
	case refused:
		return rc, http.StatusForbidden
	case unavailable:
		rc.why = "the Django session could not be checked (" + why + ")"
		s.log.Warn().Str("reason", why).Msg("panel sign-in: the session database failed")
		if s.auth.basic() {
			return rc, http.StatusUnauthorized
		}
		return rc, http.StatusServiceUnavailable
	}
	return rc, http.StatusUnauthorized
}

// api wraps a JSON handler: 401 (with a Basic challenge when htpasswd is
// on) and 403 as JSON.
func (s *Server) api(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, code := s.signIn(r)
		switch code {
		case http.StatusUnauthorized:
			s.challenge(w)
			msg := "sign in: " + s.signInHint()
			if rc.why != "" {
				msg = rc.why + ": sign in with HTTP Basic (a user of htpasswd_file) meanwhile"
			}
			writeJSON(w, code, errorBody{Error: msg})
			return
		case http.StatusForbidden:
			writeJSON(w, code, errorBody{Error: "these credentials may not operate the panel (" + s.signInHint() + ")"})
			return
		case http.StatusServiceUnavailable:
			writeJSON(w, code, errorBody{Error: rc.why + ": try again in a minute"})
			return
		}
		h(w, r, rc)
	})
}

// page wraps an HTML handler: without credentials the page says how to
// sign in, with a link to the Django admin's login that comes back here.
func (s *Server) page(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, code := s.signIn(r)
		if code != 0 {
			if code == http.StatusUnauthorized {
				s.challenge(w)
			}
			d := s.signInData(r, code)
			d.Error = rc.why
			s.render(w, code, "signin", d)
			return
		}
		h(w, r, rc)
	})
}

// challenge asks for HTTP Basic when htpasswd is a method. Not with
// django alone: a browser would pop up a password box nobody can fill.
func (s *Server) challenge(w http.ResponseWriter) {
	if s.auth.basic() {
		w.Header().Set("WWW-Authenticate", `Basic realm="maintgate panel", charset="UTF-8"`)
	}
}

func (s *Server) signInHint() string {
	switch {
	case s.auth.django() && s.auth.basic():
		return "a Django admin session of an active superuser (cookie " + s.cfg.Session.Cookie + "), or HTTP Basic with a user of htpasswd_file"
	case s.auth.django():
		return "a Django admin session of an active superuser (cookie " + s.cfg.Session.Cookie + ")"
	}
	return "HTTP Basic with a user of htpasswd_file"
}

type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
