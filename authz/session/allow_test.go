package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A group query that fails is a database failure: not cached, not a
// "no", and the next Check asks again once the database answers.
func TestGroupQueryFailure(t *testing.T) {
	f := newFakeStore()
	qa := f.addUser("7", true, false, 0)
	f.members["7"] = []string{"qa"}
	f.login("qamember", qa, time.Now().Add(time.Hour), testSecret)
	c, clk := testChecker(t, f, Options{Allow: []string{"group:qa"}, LookupTimeout: time.Second})

	failing := &failOnGroups{fakeStore: f, err: errors.New("relation \"auth_group\" does not exist")}
	c.store = failing
	if v := c.Check(testClient, "qamember"); v.Pass || v.Cached || !strings.HasPrefix(v.Reason, "database error") || v.UserID != "7" {
		t.Fatalf("Check with the group query failing = %+v, want an uncached database error", v)
	}
	c.store = f
	clk.add(time.Minute) // past the breaker's pause: this Check starts its probe
	c.Check(testClient, "qamember")
	c.wg.Wait()
	if v := c.Check(testClient, "qamember"); !v.Pass || v.Reason != "member of group qa" || !v.Cached {
		t.Fatalf("Check after the database came back = %+v", v)
	}
}

type failOnGroups struct {
	*fakeStore
	err error
}

func (f *failOnGroups) groups(ctx context.Context, userID string) ([]string, error) {
	return nil, f.err
}
