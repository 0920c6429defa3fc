package panel

import (
	"encoding/json"
	"fmt"
	"github.com/maintgate/maintgate/internal/regfile"
	"net/http"
	"strings"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/control"
)

// api.go: the JSON API (DESIGN.md, "The control panel"). Bodies are
// JSON, at most maxBody bytes (a whitelist maxWhitelistBody: limits.go),
// unknown fields refused.

// siteJSON is one site's switch.
type siteJSON struct {
	Name string `json:"name"`
	// Active: the site is in maintenance now, by its own switch or the
	// server-wide one. State is its own switch: on, off, scheduled, ended.
	Active     bool       `json:"active"`
	State      string     `json:"state"`
	Message    string     `json:"message"`
	Start      *time.Time `json:"start"`
	Until      *time.Time `json:"until"`
	Allow      []string   `json:"allow"`
	AllowPaths []string   `json:"allow_paths"`
	SetBy      string     `json:"set_by"`
	SetAt      *time.Time `json:"set_at"`
	Error      string     `json:"error,omitempty"` // flag present but unreadable: on
}

type statusJSON struct {
	Sites []siteJSON `json:"sites"`
}

// changeJSON is what on and off answer: every site after the change.
type changeJSON struct {
	statusJSON
	Warnings []string `json:"warnings"`
	Notes    []string `json:"notes"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// sitesJSON lists every configured site, default first.
func (s *Server) sitesJSON(all control.Switches, now time.Time) []siteJSON {
	out := []siteJSON{}
	for _, n := range s.cfg.SiteNames() {
		sw := all[n]
		f := sw.Flag
		j := siteJSON{Name: n, Active: all.InMaintenance(n, now), State: sw.State(now), Message: f.Message,
			Start: timePtr(f.Start), Until: timePtr(f.Until), Allow: orEmpty(f.Allow), AllowPaths: orEmpty(f.AllowPaths),
			SetBy: f.SetBy, SetAt: timePtr(f.SetAt)}
		if sw.Err != nil {
			j.Error = sw.Err.Error()
		}
		out = append(out, j)
	}
	return out
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	writeJSON(w, http.StatusOK, statusJSON{Sites: s.sitesJSON(control.Read(s.cfg), s.now())})
}

// decode reads a JSON body of at most maxBody bytes into v; false when
// it answered 400 (or 413: too large).
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeMax(w, r, v, maxBody)
}

func decodeMax(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, bodyStatus(err), errorBody{Error: bodyError(err)})
		return false
	}
	return true
}

func (s *Server) changed(w http.ResponseWriter, res control.Result, err error) {
	if err != nil {
		writeJSON(w, statusOf(err), errorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, changeJSON{statusJSON: statusJSON{Sites: s.sitesJSON(res.All, res.Now)},
		Warnings: orEmpty(res.Warnings), Notes: orEmpty(res.Notes)})
}

func (s *Server) apiOn(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	var req onRequest
	if decode(w, r, &req) {
		res, err := s.turnOn(r.Context(), rc, req)
		s.changed(w, res, err)
	}
}

func (s *Server) apiOff(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	var req struct {
		Site string `json:"site"`
	}
	if decode(w, r, &req) {
		res, err := s.turnOff(r.Context(), rc, req.Site)
		s.changed(w, res, err)
	}
}

func (s *Server) apiWhitelist(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	v, err := s.readWhitelist()
	if err != nil {
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// apiPutWhitelist: 200 and the file as it is now, or 400 with the bad
// lines and the file unchanged.
func (s *Server) apiPutWhitelist(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	var req struct {
		Text *string `json:"text"`
	}
	if !decodeMax(w, r, &req, maxWhitelistBody) {
		return
	}
	if req.Text == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body: want {"text": "…"}, one entry a line`})
		return
	}
	errs, warnings, err := s.replaceWhitelist(rc, *req.Text)
	switch {
	case err != nil:
		writeJSON(w, whitelistStatus(err), errorBody{Error: err.Error()})
	case len(errs) > 0:
		writeJSON(w, http.StatusBadRequest, struct {
			Error  string      `json:"error"`
			Errors []lineError `json:"errors"`
		}{fmt.Sprintf("%d bad line(s): the whitelist file is unchanged", len(errs)), errs})
	default:
		v, _ := s.readWhitelist()
		writeJSON(w, http.StatusOK, struct {
			whitelistView
			Warnings []string `json:"warnings"`
		}{v, orEmpty(warnings)})
	}
}

func (s *Server) apiCheck(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	var req checkRequest
	if !decode(w, r, &req) {
		return
	}
	res, err := s.check(rc, req)
	if err != nil {
		writeJSON(w, statusOf(err), errorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) apiToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	var req tokenRequest
	if !decode(w, r, &req) {
		return
	}
	res, _, err := s.issueToken(r, rc, req)
	if err != nil {
		writeJSON(w, statusOf(err), errorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// auditLen is how many changes api/audit and the page show.
const auditLen = 50

func (s *Server) latestChanges(n int) ([]audit.Entry, error) {
	if !control.Audited(s.cfg) {
		return nil, nil
	}
	return audit.Latest(s.cfg.Panel.AuditLog, n)
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	es, err := s.latestChanges(auditLen)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
		return
	}
	if es == nil {
		es = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, struct {
		AuditLog string        `json:"audit_log"`
		Entries  []audit.Entry `json:"entries"`
	}{s.cfg.Panel.AuditLog, es})
}

// metrics serves stats_file as the map wrote it (Prometheus text format
// 0.0.4), checked to be the map's; 503 while there is none.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	path := s.cfg.StatsFile
	data, err := regfile.Read(path, 1<<20)
	if err == nil {
		_, err = ParseCounters(data)
	}
	if err != nil {
		_, err = readCounters(path) // its wording
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "# %s\n", strings.ReplaceAll(fmt.Sprint(err), "\n", " "))
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(data)
}
