package settings

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseAllow: any [session] allow rule parses without a panic; a rule
// refused names its place, one accepted turns into what it says.
func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{"superuser", "staff", "active", "group:qa", "group:", "group:a b", "Superuser", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		a, probs := ParseAllow([]string{rule})
		if len(probs) > 0 {
			if probs[0].Key != "allow[0]" {
				t.Fatalf("%q: problem %+v does not name allow[0]", rule, probs[0])
			}
			return
		}
		name, group := strings.CutPrefix(rule, "group:")
		ok := rule == "superuser" && a.Superuser || rule == "staff" && a.Staff || rule == "active" && a.Active ||
			group && slices.Equal(a.Groups, []string{name})
		if !ok {
			t.Fatalf("%q accepted as %+v", rule, a)
		}
	})
}
