package session

import (
	"testing"
	"time"
)

// FuzzDecodeSessionData feeds arbitrary session_data to the decoders and
// to a whole Check: nothing may panic, verification only ever narrows
// what decodes, and nothing unsigned by the configured key makes a
// superuser.
func FuzzDecodeSessionData(f *testing.F) {
	vs, cur, _ := loadVectors(f)
	for _, v := range vs {
		if v.kind == "session" || v.kind == "cookie" {
			f.Add(v.data[0])
		}
	}
	for _, s := range []string{"", ":", "::", ".:0:", ".eJw:0:x", "e30:1:x", "e30", "OjE=", "-:-:-", "\x00:\xff:\x80",
		sessionFor(fixtureUser, testSecret)} {
		f.Add(s)
	}

	fs := newFakeStore()
	fs.users["1"] = fixtureUser
	c, _ := testChecker(f, fs, Options{LookupTimeout: time.Second})
	keys := [][]byte{cur, testSecret}

	f.Fuzz(func(t *testing.T, data string) {
		trusted, errTrusted := DecodeSessionData(data, nil)
		verified, errVerified := DecodeSessionData(data, keys)
		if errVerified == nil && (errTrusted != nil || trusted.UserID != verified.UserID || trusted.AuthHash != verified.AuthHash) {
			t.Fatalf("verifies (%+v) but does not decode untrusted (%+v, %v)", verified, trusted, errTrusted)
		}
		DecodeSigned(data, SignedCookiesSalt, keys)
		DecodeLegacy(data, keys)
		Unsign(data, SessionSalt, nil)

		fs.mu.Lock()
		fs.sessions["fuzzsession"] = fakeSession{data: data, expires: time.Now().Add(time.Hour)}
		fs.mu.Unlock()
		c.cache.purge()
		v := c.Check(testClient, "fuzzsession")
		if v.Pass {
			if _, err := DecodeSessionData(data, [][]byte{testSecret}); err != nil {
				t.Fatalf("superuser from data that does not verify: %+v, %v", v, err)
			}
		}
	})
}
