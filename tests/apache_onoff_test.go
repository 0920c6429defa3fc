package tests

// `maintgate on` and `off` while maintenance is on, through a real Apache
// (issue 11): the request sent right after the command returns is decided
// by what it wrote. Each change is made 20 times with no pause between
// the command and the request; not one answer may be the old one.

import (
	"fmt"
	"net/http"
	"testing"
)

// onOffStep is one command and the request that follows it at once.
type onOffStep struct {
	args   []string // maintgate ARGS
	vhost  string   // "" the vhost without a site, or a MG_SITES vhost
	from   string   // client address
	path   string
	passes bool // the backend answers; else the maintenance page
}

// TestApacheOnOffNextRequest: a narrower --allow (--clear), a narrower
// --allow-path, on/off --site and off are each seen by the very next
// request. Before, a change of a window already on was seen at the map's
// next tick, up to 100 ms later (and up to 200 ms in the operator's
// report): the next request passed with the old rules.
func TestApacheOnOffNextRequest(t *testing.T) {
	a := startSites(t, apacheOpts{})
	cases := []struct {
		name  string
		steps []onOffStep
	}{
		{"--allow, then --clear", []onOffStep{
			{[]string{"on", "--allow", "127.0.0.2"}, "", "127.0.0.2", "/de/map/", true},
			{[]string{"on", "--clear"}, "", "127.0.0.2", "/de/map/", false},
		}},
		{"--allow, then a narrower --allow", []onOffStep{
			{[]string{"on", "--allow", "127.0.0.0/24"}, "", "127.0.0.2", "/de/map/", true},
			{[]string{"on", "--allow", "127.0.0.3"}, "", "127.0.0.2", "/de/map/", false},
		}},
		{"--allow-path, then a narrower one", []onOffStep{
			{[]string{"on", "--clear", "--allow-path", "/docs/"}, "", "127.0.0.1", "/docs/a/", true},
			{[]string{"on", "--allow-path", "/docs/b/"}, "", "127.0.0.1", "/docs/a/", false},
		}},
		{"on, then off", []onOffStep{
			{[]string{"on", "--clear"}, "", "127.0.0.1", "/de/map/", false},
			{[]string{"off"}, "", "127.0.0.1", "/de/map/", true},
		}},
		{"a site's --allow, --clear and off", []onOffStep{
			{[]string{"on", "--site", "shop", "--allow", "127.0.0.2"}, "shop", "127.0.0.2", "/de/map/", true},
			{[]string{"on", "--site", "shop", "--clear"}, "shop", "127.0.0.2", "/de/map/", false},
			{[]string{"off", "--site", "shop"}, "shop", "127.0.0.2", "/de/map/", true},
		}},
	}
	clients := map[string]*http.Client{}
	for _, c := range cases {
		stale := 0
		var first string
		for round := 0; round < 20; round++ {
			for _, s := range c.steps {
				mg(t, a.cfg, 0, s.args...)
				if clients[s.from] == nil {
					clients[s.from] = apClient(s.from)
				}
				saved := a.base
				a.base = a.siteBase(t, s.vhost)
				r := a.getFrom(t, clients[s.from], s.path)
				a.base = saved
				backend := r.status == http.StatusOK && r.body == "backend: "+s.path+"\n"
				page := r.status == http.StatusFound
				if (s.passes && !backend) || (!s.passes && !page) {
					stale++
					if first == "" {
						first = fmt.Sprintf("round %d, after maintgate %v: %s from %s got %v", round, s.args, s.path, s.from, r)
					}
				}
			}
		}
		if stale > 0 {
			t.Errorf("%s: %d of %d requests sent right after the command got the old answer; first: %s", c.name, stale, 20*len(c.steps), first)
		}
	}
	mg(t, a.cfg, 0, "off")
}
