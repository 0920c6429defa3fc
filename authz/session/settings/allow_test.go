package settings

import (
	"slices"
	"strings"
	"testing"
)

func TestParseAllow(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    Allow
		problem string // in the first problem's text, "" for none
	}{
		{[]string{"superuser"}, Allow{Superuser: true}, ""},
		{[]string{"staff", "active"}, Allow{Staff: true, Active: true}, ""},
		{[]string{"group:qa", "group:Release Team", "group:qa"}, Allow{Groups: []string{"qa", "Release Team"}}, ""},
		{[]string{}, Allow{}, "allow: must name at least one rule"},
		{[]string{"Superuser"}, Allow{}, `allow[0]: "Superuser" is not a rule`},
		{[]string{"superuser", "groups:qa"}, Allow{Superuser: true}, `allow[1]: "groups:qa" is not a rule`},
		{[]string{"group:"}, Allow{}, `allow[0]: "group:": names no group`},
		{[]string{"group:a\nb"}, Allow{}, "control character"},
		{[]string{"group:" + strings.Repeat("é", 151)}, Allow{}, "longer than Django's 150 characters"},
	} {
		got, probs := ParseAllow(tc.in)
		if tc.problem == "" && len(probs) > 0 || tc.problem != "" && (len(probs) == 0 || !strings.Contains(probs[0].Error(), tc.problem)) {
			t.Errorf("ParseAllow(%q) problems %v, want %q", tc.in, probs, tc.problem)
		}
		if got.Superuser != tc.want.Superuser || got.Staff != tc.want.Staff || got.Active != tc.want.Active || !slices.Equal(got.Groups, tc.want.Groups) {
			t.Errorf("ParseAllow(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if a, _ := ParseAllow(DefaultAllow()); !a.OnlySuperuser() {
		t.Errorf("default %v is not superusers only", DefaultAllow())
	}
}

func TestCheckTables(t *testing.T) {
	v := Values{SessionTable: SessionTable, UserTable: UserTable, GroupTable: "auth group", UserGroupsTable: "app.members",
		Allow: DefaultAllow(), CacheSize: 1, CacheTTL: 1, NegativeTTL: 1, LookupTimeout: 1, CookieAge: 1, MaxConns: 1}
	probs := Check(v)
	if len(probs) != 1 || probs[0].Key != "group_table" {
		t.Errorf("Check = %v, want one problem of group_table", probs)
	}
}
