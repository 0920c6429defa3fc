// Package page renders the maintenance page from an html/template, so the
// page Apache serves (and its ErrorDocument fallback) shows the operator's
// message and expected end time without any server-side scripting.
package page

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/maintgate/maintgate/flagfile"
)

// Data is what a template sees.
type Data struct {
	// Active is false when the page is rendered by `maintgate off`: then
	// Apache serves it only as the backend-down fallback, and it should
	// say "temporarily unavailable", not "planned maintenance".
	Active  bool
	Message string
	Start   time.Time
	Until   time.Time
	// UntilText is Until in the server's local time, ready to print.
	UntilText string
	// RetrySeconds is how long a browser should wait before reloading.
	RetrySeconds int
	Rendered     time.Time
}

// NewData builds template data from a flag.
func NewData(active bool, f flagfile.Flag, now time.Time) Data {
	d := Data{Active: active, Message: f.Message, Start: f.Start, Until: f.Until, Rendered: now, RetrySeconds: 60}
	if !f.Until.IsZero() {
		d.UntilText = f.Until.Local().Format("Monday, 2 January 2006, 15:04 MST")
		if secs := int(f.Until.Sub(now).Seconds()); secs > 60 && secs < 600 {
			d.RetrySeconds = secs
		} else if secs >= 600 {
			d.RetrySeconds = 300
		}
	}
	return d
}

// Render executes the template file at tmpl with d.
func Render(tmpl string, d Data) ([]byte, error) {
	t, err := template.ParseFiles(tmpl)
	if err != nil {
		return nil, fmt.Errorf("page template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("page template %s: %w", tmpl, err)
	}
	return b.Bytes(), nil
}

// RenderFile renders tmpl into out atomically, world-readable (Apache
// serves it).
func RenderFile(tmpl, out string, d Data) error {
	b, err := Render(tmpl, d)
	if err != nil {
		return err
	}
	return flagfile.WriteAtomic(out, b, 0o644)
}
