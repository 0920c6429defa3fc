package session

import (
	"context"
	"slices"
	"strings"

	"github.com/maintgate/maintgate/authz/session/settings"
)

// rules are the parsed [session] allow list and the reasons it gives.
type rules struct {
	settings.Allow
	// denied is the reason of an active user no rule lets through, made
	// once: "user is not a superuser" under the default, the list
	// otherwise.
	denied string
}

// ReasonGroupPrefix starts the reason of a user let through by a group
// rule: "member of group qa".
const ReasonGroupPrefix = "member of group "

func newRules(allow []string) rules {
	a, _ := settings.ParseAllow(allow) // validated by Options.validate
	r := rules{Allow: a, denied: ReasonNotSuperuser}
	if !a.OnlySuperuser() {
		r.denied = ReasonNotAllowed + " (allow = " + strings.Join(allow, ", ") + ")"
	}
	return r
}

// admit says which allow rule lets u (whose primary key is userID) through, as the Verdict's reason, or
// why none does. The cheap rules (columns of u) come first, in a fixed
// order (superuser, staff, active), so the group query runs only for an
// active user no other rule lets through, and only when allow names a
// group. An inactive user never passes. err is set only when the group
// query failed.
func (c *Checker) admit(ctx context.Context, userID string, u userRow) (reason string, pass bool, err error) {
	r := &c.rules
	switch {
	case !u.Active:
		return ReasonInactive, false, nil
	case r.Superuser && u.Superuser:
		return ReasonSuperuser, true, nil
	case r.Staff && u.Staff:
		return ReasonStaff, true, nil
	case r.Active:
		return ReasonActive, true, nil
	case len(r.Groups) == 0:
		return r.denied, false, nil
	}
	names, err := c.store.groups(ctx, userID)
	if err != nil {
		return "", false, err
	}
	if len(names) == 0 {
		return r.denied, false, nil
	}
	// The first group as allow lists it; a name the database matched by
	// its collation only (MySQL compares case-insensitively) as stored.
	name := names[0]
	for _, g := range r.Groups {
		if slices.Contains(names, g) {
			name = g
			break
		}
	}
	return ReasonGroupPrefix + name, true, nil
}
