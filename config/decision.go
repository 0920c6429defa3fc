package config

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/maintgate/maintgate/authz"
)

// validateDecision checks the keys that shape how the decision reads a
// path: languages (which first segments are a language prefix; the codes
// and their rule live in authz, beside the decision) and backend_paths (how
// the backend resolves a path). Its problems name the file and the line, as
// unknown keys do; data is the file's text.
func (c *Config) validateDecision(data []byte) []string {
	var p []string
	for i, s := range c.Languages {
		if authz.IsLanguageCode(s) {
			continue
		}
		hint := ""
		if w := strings.ReplaceAll(strings.ToLower(s), "_", "-"); w != s && authz.IsLanguageCode(w) {
			hint = fmt.Sprintf(" (write %q, as in the URL)", w)
		}
		p = append(p, fmt.Sprintf("config %s:%d: languages[%d]: %q is not a lower-case language code like \"de\" or \"pt-br\"%s",
			c.Path, lineOfEntry(data, toml.Key{"languages"}, s), i, s, hint))
	}
	switch c.BackendPaths {
	case "standard", "servlet":
	default:
		p = append(p, fmt.Sprintf("config %s:%d: backend_paths: %q must be \"standard\" (Django, most backends) or \"servlet\" (Tomcat, Jetty, IIS)",
			c.Path, lineOf(data, toml.Key{"backend_paths"}), c.BackendPaths))
	}
	return p
}
