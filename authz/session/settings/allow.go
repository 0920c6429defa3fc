package settings

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The rules of [session] allow: whose session lets them through.
const (
	AllowSuperuser = "superuser" // is_superuser (the default: the original middleware's rule)
	AllowStaff     = "staff"     // is_staff, as Django's admin requires
	AllowActive    = "active"    // any active user with a valid session (IGNORE_AUTHENTICATED)
	AllowGroup     = "group:"    // "group:NAME": a member of the Django group NAME
)

// DefaultAllow is allow's default: superusers only.
func DefaultAllow() []string { return []string{AllowSuperuser} }

// maxGroupName is Django's Group.name max_length (characters).
const maxGroupName = 150

// Allow is a parsed allow list. Any one rule lets an active user through;
// an inactive user never passes.
type Allow struct {
	Superuser, Staff, Active bool
	Groups                   []string // as written, in order, without duplicates
}

// OnlySuperuser says whether Allow is the default, superusers only.
func (a Allow) OnlySuperuser() bool {
	return a.Superuser && !a.Staff && !a.Active && len(a.Groups) == 0
}

// ParseAllow reads the allow list. Rules are exact and lower case; a
// group name is taken as written (Django compares it as the database's
// collation does: exactly on PostgreSQL and SQLite, case-insensitively on
// MySQL/MariaDB's default collation). An empty list is a problem: with
// nobody allowed, allow_admin_during_maintenance = false says so plainly.
func ParseAllow(rules []string) (Allow, []Problem) {
	var a Allow
	var p []Problem
	if len(rules) == 0 {
		p = append(p, Problem{Key: "allow", Msg: `must name at least one rule ("superuser", "staff", "active" or "group:NAME"); to let no session through set allow_admin_during_maintenance = false`})
	}
	for i, r := range rules {
		key := fmt.Sprintf("allow[%d]", i)
		switch r {
		case AllowSuperuser:
			a.Superuser = true
		case AllowStaff:
			a.Staff = true
		case AllowActive:
			a.Active = true
		default:
			name, ok := strings.CutPrefix(r, AllowGroup)
			if !ok {
				p = append(p, Problem{Key: key, Msg: fmt.Sprintf(`%q is not a rule: want "superuser", "staff", "active" or "group:NAME"`, r)})
				continue
			}
			if msg := checkGroupName(name); msg != "" {
				p = append(p, Problem{Key: key, Msg: fmt.Sprintf("%q: %s", r, msg)})
				continue
			}
			if !slices.Contains(a.Groups, name) {
				a.Groups = append(a.Groups, name)
			}
		}
	}
	return a, p
}

// checkGroupName returns what is wrong with a Django group name, or "".
// The name is a query parameter, never SQL text: only what Django itself
// could not store is refused.
func checkGroupName(name string) string {
	switch {
	case name == "":
		return "names no group (group:NAME)"
	case !utf8.ValidString(name):
		return "group name is not valid UTF-8"
	case utf8.RuneCountInString(name) > maxGroupName:
		return fmt.Sprintf("group name longer than Django's %d characters", maxGroupName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "group name holds a control character"
	}
	return ""
}
