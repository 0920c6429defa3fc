package panel

import (
	"bytes"
	"fmt"
	"github.com/maintgate/maintgate/internal/regfile"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/page"
)

// pages.go: the HTML page. Every action is a plain form that works
// without JavaScript (on and off then show a confirmation page first);
// assets/panel.js only asks the confirmation in a dialog, refreshes the
// live view and copies the bypass URL.

func parsePages() (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"when":  fmtTime,
		"clock": func(t time.Time) string { return t.Local().Format("01-02 15:04:05") },
		"lines": func(v []string) string { return strings.Join(v, "\n") },
	}).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("panel templates: %w", err)
	}
	return t, nil
}

func fmtTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.Local().Format("2006-01-02 15:04 MST")
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.Local().Format("2006-01-02 15:04 MST")
	}
	return ""
}

// pageData is what the templates see.
type pageData struct {
	User      User
	Client    string
	Sites     []siteJSON
	Whitelist whitelistView
	// WhitelistText is the text posted when it had bad lines, shown
	// again with them.
	WhitelistText   string
	WhitelistErrors []lineError
	WhitelistErr    string
	Flash           string
	Error           string
	Warnings        []string
	Notes           []string
	CheckReq        checkRequest
	Check           *checkResponse
	Token           *tokenResponse
	TokenOn         bool
	Live            liveData
	LoginURL        string
	Status          int
	Hint            string
	Confirm         *confirmData
}

// confirmData is the confirmation step of on and off without script.
type confirmData struct {
	Action string // "on" or "off"
	Site   string
	Form   url.Values
}

// pageAuditLen is how many changes the page shows (api/audit: auditLen).
const pageAuditLen = 10

// liveData is the part the page refreshes.
type liveData struct {
	Counters    Counters
	CountersErr string
	Reasons     []reasonCount
	Chart       template.HTML
	Audit       []audit.Entry
	AuditErr    string
}

type reasonCount struct {
	Reason string
	N      uint64
}

func (s *Server) liveData() liveData {
	c, samples, err := s.hist.snapshot()
	d := liveData{Counters: c, Chart: chartSVG(samples, s.now())}
	if err != nil {
		d.CountersErr = err.Error()
	}
	for _, r := range Reasons {
		d.Reasons = append(d.Reasons, reasonCount{r, c.Answers[r]})
	}
	if d.Audit, err = s.latestChanges(pageAuditLen); err != nil {
		d.AuditErr = err.Error()
	}
	return d
}

// data is the page as it stands, for rc.
func (s *Server) data(rc *reqCtx) *pageData {
	d := &pageData{User: rc.user, Sites: s.sitesJSON(control.Read(s.cfg), s.now()), Live: s.liveData(),
		TokenOn: s.cfg.Token.KeyFile != "", CheckReq: checkRequest{Path: "/"}}
	if rc.client.IsValid() {
		d.Client = rc.client.String()
	}
	var err error
	if d.Whitelist, err = s.readWhitelist(); err != nil {
		d.WhitelistErr = err.Error()
	}
	d.WhitelistText = d.Whitelist.Text
	return d
}

func (s *Server) render(w http.ResponseWriter, code int, name string, d *pageData) {
	var b bytes.Buffer
	if err := s.pages.ExecuteTemplate(&b, name, d); err != nil {
		s.log.Error().Err(err).Str("template", name).Msg("panel page")
		http.Error(w, "panel: page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// signInData says how to sign in: the Django admin's login, with next
// back to the panel as the browser reached it (Apache's /maintgate/).
func (s *Server) signInData(r *http.Request, code int) *pageData {
	d := &pageData{Status: code, Hint: s.signInHint()}
	if s.auth.django() {
		admin := "/admin/"
		if len(s.cfg.AdminPaths) > 0 {
			admin = s.cfg.AdminPaths[0]
		}
		next := "/maintgate/"
		if p := r.Header.Get("X-Forwarded-Prefix"); strings.HasPrefix(p, "/") && s.peerTrusted(r) {
			next = strings.TrimSuffix(p, "/") + "/"
		}
		d.LoginURL = strings.TrimSuffix(admin, "/") + "/login/?next=" + url.QueryEscape(next)
	}
	return d
}

func (s *Server) index(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	s.render(w, http.StatusOK, "index", s.data(rc))
}

func (s *Server) live(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	s.render(w, http.StatusOK, "live", &pageData{Live: s.liveData()})
}

// sitesPart is the sites table alone, for the page's refresh.
func (s *Server) sitesPart(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	s.render(w, http.StatusOK, "sites", &pageData{Sites: s.sitesJSON(control.Read(s.cfg), s.now())})
}

// preview is the maintenance page as a visitor of the site would see it
// now, rendered from the site's template; in a sandbox (no script, no
// form, no same-origin), since the template is the operator's.
func (s *Server) preview(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	site := r.URL.Query().Get("site")
	if site == "" {
		site = "default"
	}
	if _, err := s.cfg.FlagFileOf(site); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	tmpl, out := control.PageOf(s.cfg, site)
	var b []byte
	var err error
	switch {
	case tmpl != "":
		now := s.now()
		b, err = page.Render(tmpl, control.PageData(control.Read(s.cfg), site, now))
	case out != "":
		b, err = regfile.Read(out, 4<<20)
	default:
		http.Error(w, "no page_template or page_file for this site: Apache serves "+s.cfg.MaintenancePage+" from its own files", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// result shows the page after a change, with what it said.
func (s *Server) result(w http.ResponseWriter, rc *reqCtx, flash string, res control.Result, err error) {
	d := s.data(rc)
	if err != nil {
		d.Error = err.Error()
		s.render(w, statusOf(err), "index", d)
		return
	}
	d.Flash, d.Warnings, d.Notes = flash, res.Warnings, res.Notes
	s.render(w, http.StatusOK, "index", d)
}

func (s *Server) formOn(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	if !s.parseForm(w, r, rc, maxBody) {
		return
	}
	if r.PostForm.Get("confirm") != "1" {
		d := s.data(rc)
		d.Confirm = &confirmData{Action: "on", Site: r.PostForm.Get("site"), Form: r.PostForm}
		s.render(w, http.StatusOK, "confirm", d)
		return
	}
	req := onRequest{Site: r.PostForm.Get("site"), Message: r.PostForm.Get("message"),
		Until: r.PostForm.Get("until"), Start: r.PostForm.Get("start"),
		Allow: strings.Fields(r.PostForm.Get("allow")), AllowPaths: strings.Fields(r.PostForm.Get("allow_paths")),
		AllowMe: r.PostForm.Get("allow_me") != ""}
	res, err := s.turnOn(r.Context(), rc, req)
	s.result(w, rc, "Maintenance switched on for "+siteWord(req.Site)+".", res, err)
}

func (s *Server) formOff(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	if !s.parseForm(w, r, rc, maxBody) {
		return
	}
	site := r.PostForm.Get("site")
	if r.PostForm.Get("confirm") != "1" {
		d := s.data(rc)
		d.Confirm = &confirmData{Action: "off", Site: site, Form: r.PostForm}
		s.render(w, http.StatusOK, "confirm", d)
		return
	}
	res, err := s.turnOff(r.Context(), rc, site)
	s.result(w, rc, "Maintenance switched off for "+siteWord(site)+".", res, err)
}

func siteWord(site string) string {
	if site == "" || site == "default" {
		return "the server-wide switch"
	}
	return "site " + site
}

func (s *Server) formWhitelist(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	if !s.parseForm(w, r, rc, maxWhitelistBody) {
		return
	}
	texts, ok := r.PostForm["text"]
	if !ok {
		d := s.data(rc)
		d.Error = "body: no text field; the whitelist file is unchanged"
		s.render(w, http.StatusBadRequest, "index", d)
		return
	}
	text := strings.ReplaceAll(texts[0], "\r\n", "\n")
	errs, warnings, err := s.replaceWhitelist(rc, text)
	d := s.data(rc)
	code := http.StatusOK
	switch {
	case err != nil:
		d.Error, code = err.Error(), whitelistStatus(err)
	case len(errs) > 0:
		d.WhitelistText, d.WhitelistErrors, code = text, errs, http.StatusBadRequest
		d.Error = fmt.Sprintf("%d bad line(s): the whitelist file is unchanged.", len(errs))
	default:
		d.Flash, d.Warnings = fmt.Sprintf("Whitelist saved: %d entries; the map uses it within 0.1 s.", len(d.Whitelist.Entries)), warnings
	}
	s.render(w, code, "index", d)
}

func (s *Server) formCheck(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	if !s.parseForm(w, r, rc, maxBody) {
		return
	}
	req := checkRequest{IP: r.PostForm.Get("ip"), Path: r.PostForm.Get("path"), XFF: r.PostForm.Get("xff"),
		Cookie: r.PostForm.Get("cookie"), Site: r.PostForm.Get("site")}
	res, err := s.check(rc, req)
	d := s.data(rc)
	d.CheckReq = req
	d.CheckReq.Cookie = "" // never echoed into the page
	if err != nil {
		d.Error = err.Error()
		s.render(w, statusOf(err), "index", d)
		return
	}
	d.Check = &res
	s.render(w, http.StatusOK, "index", d)
}

func (s *Server) formToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	if !s.parseForm(w, r, rc, maxBody) {
		return
	}
	res, warnings, err := s.issueToken(r, rc, tokenRequest{TTL: r.PostForm.Get("ttl"), Label: r.PostForm.Get("label")})
	d := s.data(rc)
	if err != nil {
		d.Error = err.Error()
		s.render(w, statusOf(err), "index", d)
		return
	}
	d.Token, d.Warnings = &res, warnings
	s.render(w, http.StatusOK, "index", d)
}
