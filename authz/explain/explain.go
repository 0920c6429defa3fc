// Package explain says an authz decision in a sentence an operator
// understands: `maintgate check` prints it, and so can anything else that
// shows a decision to a person (the control panel's check). It lives apart
// from the decision so that the answer path never builds these strings.
package explain

import (
	"fmt"

	"github.com/maintgate/maintgate/authz"
)

// Decision says d in one line that starts with "allow:" or "redirect:", so
// a script can read the answer from the first word. path is the cleaned
// request path (authz.CleanPath), the one the rules were matched against.
func Decision(d authz.Decision, path string) string {
	switch d.Reason {
	case authz.Inactive:
		return "allow: maintenance is not active"
	case authz.AllowedPath:
		if d.Detail == authz.WindowPathDetail {
			return fmt.Sprintf("allow: %s is a %s", path, d.Detail)
		}
		return fmt.Sprintf("allow: %s is an always-allowed path (allow_paths)", path)
	case authz.AdminPath:
		return fmt.Sprintf("allow: %s is under an admin prefix (admin_paths), left open so staff can log in", path)
	case authz.Whitelisted:
		return fmt.Sprintf("allow: client %s is in the whitelist", d.Client)
	case authz.WindowAllow:
		return fmt.Sprintf("allow: client %s is allowed for this maintenance window (maintgate on --allow)", d.Client)
	case authz.Token:
		return fmt.Sprintf("allow: valid bypass token (%s)", d.Detail)
	case authz.Superuser:
		return fmt.Sprintf("allow: session of user id %s: %s (session.allow)", d.UserID, d.Detail)
	}
	s := fmt.Sprintf("redirect: maintenance is active and no rule lets client %s reach %s", d.Client, path)
	if d.Detail != "" {
		s += " (" + d.Detail + ")"
	}
	return s
}
