package tests

import "testing"

// TestApacheSessionAllowRules: [session] allow through Apache, with
// sessions made by a real Django. Staff and a member of "qa" pass exactly
// when a rule names them; a plain user passes only under "active"; an
// inactive user (superuser, staff and in "qa") never does. Django makes
// superusers staff, so "staff" lets them through too.
func TestApacheSessionAllowRules(t *testing.T) {
	dj := newApDjango(t)
	for _, tc := range []struct {
		allow string
		pass  map[string]bool
	}{
		{`["staff"]`, map[string]bool{"superuser": true, "staff": true, "qa": false, "plain": false, "inactive": false}},
		{`["group:qa"]`, map[string]bool{"superuser": false, "staff": false, "qa": true, "other_group": false, "inactive": false}},
		{`["superuser", "group:qa"]`, map[string]bool{"superuser": true, "staff": false, "qa": true, "plain": false, "inactive": false}},
		{`["active"]`, map[string]bool{"superuser": true, "staff": true, "qa": true, "plain": true, "inactive": false}},
	} {
		t.Run(tc.allow, func(t *testing.T) {
			a := startApache(t, apacheOpts{toml: dj.toml(map[string]string{"session.allow": tc.allow})})
			a.on(t)
			for who, pass := range tc.pass {
				r := a.get(t, "/de/map/", "Cookie: sessionid="+dj.cookie(t, who))
				if pass {
					apWantBackend(t, r, "/de/map/", who+" session under allow = "+tc.allow)
				} else {
					a.wantRedirect(t, r, who+" session under allow = "+tc.allow)
				}
			}
		})
	}
}
