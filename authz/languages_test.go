package authz

import (
	"regexp"
	"testing"
)

// djangoCodeRe is Django's language_code_re (trans_real.py) without its
// IGNORECASE: a URL prefix is matched exactly, in lower case.
var djangoCodeRe = regexp.MustCompile(`^[a-z]{1,8}(?:-[a-z0-9]{1,8})*(?:@[a-z0-9]{1,20})?$`)

func TestDjangoLanguagesAreCodes(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range DjangoLanguages() {
		if !IsLanguageCode(c) || seen[c] {
			t.Errorf("%q: code %v, twice %v", c, IsLanguageCode(c), seen[c])
		}
		seen[c] = true
	}
	if len(seen) < 90 || !seen["pt-br"] || !seen["zh-hant"] || seen["api"] {
		t.Errorf("%d codes", len(seen))
	}
}

func FuzzIsLanguageCode(f *testing.F) {
	for _, s := range []string{"de", "pt-br", "sr@latin", "es_AR", "DE", "api-v2", "a-b-c", "de-", "x@", "abcdefghi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsLanguageCode(s), djangoCodeRe.MatchString(s); got != want {
			t.Fatalf("IsLanguageCode(%q) = %v, Django's rule says %v", s, got, want)
		}
	})
}
