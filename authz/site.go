package authz

import "github.com/maintgate/maintgate/whitelist"

// SiteRules are what a [sites.NAME] table changes in the top-level policy.
type SiteRules struct {
	// AllowPaths and AdminPaths replace the top-level lists when not nil
	// (an empty list set on purpose replaces them too).
	AllowPaths []string
	AdminPaths []string
	// Whitelist is added to the top-level whitelist; nil adds nothing.
	Whitelist *whitelist.List
}

// ForSite returns the policy of one site: p with the site's rules. The
// rest (trusted proxies, token, session, languages, on_error) is the
// server's: one Apache, one set of secrets. p is not changed.
func (p *Policy) ForSite(r SiteRules) *Policy {
	sp := *p
	if r.AllowPaths != nil {
		sp.AllowPaths = r.AllowPaths
	}
	if r.AdminPaths != nil {
		sp.AdminPaths = r.AdminPaths
	}
	if r.Whitelist.Len() > 0 {
		sp.Whitelist = whitelist.Merge(p.Whitelist, r.Whitelist)
	}
	return &sp
}
