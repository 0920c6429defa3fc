package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maintgate/maintgate/audit"
	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/flagfile"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func newController(t *testing.T, extra string) *Controller {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "maintgate.toml")
	text := "flag_file = \"maintenance\"\nstate_map = \"state.map\"\n[panel]\naudit_log = \"audit.log\"\n" + extra
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Controller{Config: cfg, Actor: Actor{Who: "alice", Via: "panel"}, Now: func() time.Time { return t0 }}
}

// The fields of a Change: set replaces, unset keeps, Clear starts over.
func TestChangeNext(t *testing.T) {
	kept := Switch{Present: true, Flag: flagfile.Flag{Message: "old", Until: t0.Add(time.Hour), Allow: []string{"10.1.1.1"}, SetAt: t0.Add(-time.Hour)}}
	for _, tc := range []struct {
		name  string
		s     Switch
		ch    Change
		check func(f flagfile.Flag) bool
		err   string
	}{
		{"message only keeps the rest", kept, Change{Message: "new", Set: map[string]bool{"message": true}},
			func(f flagfile.Flag) bool {
				return f.Message == "new" && f.Until.Equal(t0.Add(time.Hour)) && len(f.Allow) == 1 && f.SetAt.Equal(t0.Add(-time.Hour))
			}, ""},
		{"clear starts over", kept, Change{Clear: true, Message: "m", Set: map[string]bool{"message": true}},
			func(f flagfile.Flag) bool {
				return f.Message == "m" && f.Until.IsZero() && f.Allow == nil && f.SetAt.Equal(t0)
			}, ""},
		{"until none drops the end time", kept, Change{Until: "none", Set: map[string]bool{"until": true}},
			func(f flagfile.Flag) bool { return f.Until.IsZero() && f.Message == "old" }, ""},
		{"empty until from a form drops it too", kept, Change{Until: "", Set: map[string]bool{"until": true}},
			func(f flagfile.Flag) bool { return f.Until.IsZero() }, ""},
		{"an empty allow list set replaces", kept, Change{Set: map[string]bool{"allow": true}},
			func(f flagfile.Flag) bool { return len(f.Allow) == 0 }, ""},
		{"a passed end time is dropped by a plain on", Switch{Present: true, Flag: flagfile.Flag{Until: t0.Add(-time.Minute)}}, Change{},
			func(f flagfile.Flag) bool { return f.Until.IsZero() }, ""},
		{"set_by names the panel", Switch{}, Change{},
			func(f flagfile.Flag) bool { return f.SetBy == "alice (panel)" }, ""},
		{"paths are cleaned", Switch{}, Change{AllowPaths: []string{"/hooks//pay/"}, Set: map[string]bool{"allow_paths": true}},
			func(f flagfile.Flag) bool { return len(f.AllowPaths) == 1 && f.AllowPaths[0] == "/hooks/pay/" }, ""},
		{"until in the past", Switch{}, Change{Until: "2020-01-01T00:00:00Z", Set: map[string]bool{"until": true}}, nil, "--until 2020-01-01T00:00:00Z is in the past"},
		{"not a time", Switch{}, Change{Start: "soon", Set: map[string]bool{"start": true}}, nil, `--start "soon" is not a time`},
		{"start after until", Switch{}, Change{Start: "2h", Until: "1h", Set: map[string]bool{"start": true, "until": true}}, nil, "--start must be before --until"},
		{"bad address", Switch{}, Change{Allow: []string{"10.0.0/8"}, Set: map[string]bool{"allow": true}}, nil, `--allow: "10.0.0/8" is not an IP or CIDR`},
		{"message too long", Switch{}, Change{Message: strings.Repeat("x", MaxMessage+1), Set: map[string]bool{"message": true}}, nil, "--message is 4097 bytes; at most 4096"},
		{"slash opens all", Switch{}, Change{AllowPaths: []string{"/"}, Set: map[string]bool{"allow_paths": true}}, nil, "would open every path"},
	} {
		f, err := tc.ch.next(tc.s, Actor{Who: "alice", Via: "panel"}, t0)
		var ie *InputError
		switch {
		case tc.err != "" && (err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want an InputError with %q", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && !tc.check(f):
			t.Errorf("%s: flag %+v", tc.name, f)
		}
	}
}

func TestOnOffWriteFlagStateMapAndAudit(t *testing.T) {
	c := newController(t, "[sites.shop]\n")
	ctx := context.Background()
	r, err := c.On(ctx, []string{"shop"}, Change{Message: "Shop migration", Until: "2h", Set: map[string]bool{"message": true, "until": true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sites) != 1 || r.Sites[0].Before.Present || !r.Sites[0].After.Active(t0) || r.Sites[0].After.Flag.Message != "Shop migration" {
		t.Fatalf("result %+v", r)
	}
	if _, f, err := flagfile.Read(c.Config.Sites["shop"].FlagFile); err != nil || f.Message != "Shop migration" || f.SetBy != "alice (panel)" {
		t.Fatalf("flag file: %+v %v", f, err)
	}
	if st := flagfile.ReadStates(c.Config.StateMap); st["shop"] != flagfile.On || st["default"] != flagfile.Off {
		t.Fatalf("state map %v", st)
	}
	if _, err := c.Off(ctx, []string{"shop"}); err != nil {
		t.Fatal(err)
	}
	got, err := audit.Latest(c.Config.Panel.AuditLog, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("audit %+v %v", got, err)
	}
	if got[0].Action != "off" || got[0].Site != "shop" || got[0].Details["was"] != "on" ||
		got[1].Action != "on" || got[1].Who != "alice" || got[1].Via != "panel" || got[1].Details["message"] != "Shop migration" {
		t.Fatalf("audit lines %+v", got)
	}
}

func TestUnknownSiteChangesNothing(t *testing.T) {
	c := newController(t, "[sites.shop]\n")
	_, err := c.On(context.Background(), []string{"shop", "nosuch"}, Change{})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `site "nosuch" is not configured`) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(c.Config.Sites["shop"].FlagFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the first site named was switched")
	}
}

// remote records calls, holds the fleet's flags, or fails them all.
type remote struct {
	calls []string
	flags map[string][]byte
	fail  error
}

func (r *remote) Flags(_ context.Context, sites []string) (map[string][]byte, error) {
	r.calls = append(r.calls, "flags "+strings.Join(sites, ","))
	out := map[string][]byte{}
	for _, s := range sites {
		if f, ok := r.flags[s]; ok {
			out[s] = f
		}
	}
	return out, r.fail
}

func (r *remote) Apply(_ context.Context, changes []RemoteChange) error {
	var parts []string
	for _, ch := range changes {
		if ch.Flag == nil {
			parts = append(parts, "delete "+ch.Site)
			continue
		}
		parts = append(parts, "put "+ch.Site+" "+strings.Split(string(ch.Flag), "\n")[2])
	}
	r.calls = append(r.calls, strings.Join(parts, ", "))
	if r.fail == nil {
		if r.flags == nil {
			r.flags = map[string][]byte{}
		}
		for _, ch := range changes {
			if ch.Flag == nil {
				delete(r.flags, ch.Site)
			} else {
				r.flags[ch.Site] = ch.Flag
			}
		}
	}
	return r.fail
}

// The fleet's store is written first with the flag's own bytes; when it
// fails, nothing local is written and nothing recorded.
func TestRemoteFirstAndAllOrNothing(t *testing.T) {
	c := newController(t, "")
	rm := &remote{}
	c.Remote = rm
	ctx := context.Background()
	if _, err := c.On(ctx, nil, Change{Message: "x", Set: map[string]bool{"message": true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Off(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rm.calls, "|") != `flags default|put default message = "x"|delete default` {
		t.Fatalf("remote calls %q", rm.calls)
	}
	rm.fail = errors.New("fleet: redis unreachable")
	if _, err := c.On(ctx, nil, Change{}); err == nil || err.Error() != "fleet: redis unreachable" {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(c.Config.FlagFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the local flag was written although the fleet refused")
	}
	if got, _ := audit.Latest(c.Config.Panel.AuditLog, 10); len(got) != 2 {
		t.Fatalf("%d audit lines, want 2 (the refused change is not recorded)", len(got))
	}
}

func TestDefaultAuditLogWithoutItsDirectoryIsOff(t *testing.T) {
	c := newController(t, "")
	c.Config.Panel.AuditLog = config.DefaultAuditLog
	if _, err := os.Stat(filepath.Dir(config.DefaultAuditLog)); err == nil {
		// The package is installed here: the default log is written.
		if !Audited(c.Config) {
			t.Fatal("the default audit log is off although its directory exists")
		}
		return
	}
	r, err := c.On(context.Background(), nil, Change{})
	if err != nil || len(r.Warnings) != 0 {
		t.Fatalf("%v %v", r.Warnings, err)
	}
}

// A flag the map could not read would mean maintenance on with no window:
// one that would grow past MaxFlagSize is refused, and nothing written.
func TestOnRefusesAHugeFlag(t *testing.T) {
	c := newController(t, "")
	allow := make([]string, 0, 5000)
	for i := range 5000 {
		allow = append(allow, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
	}
	_, err := c.On(context.Background(), nil, Change{Allow: allow, Start: "1h", Set: map[string]bool{"allow": true, "start": true}})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "at most 65536") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(c.Config.FlagFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the flag was written")
	}
}

// A change of several sites is one call of the fleet's store (one
// MULTI/EXEC: the fleet never holds half of it).
func TestRemoteGetsTheWholeChangeAtOnce(t *testing.T) {
	c := newController(t, "[sites.shop]\n[sites.blog]\n")
	rm := &remote{}
	c.Remote = rm
	ctx := context.Background()
	if _, err := c.On(ctx, []string{"shop", "blog"}, Change{Message: "x", Set: map[string]bool{"message": true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Off(ctx, []string{"shop", "blog"}); err != nil {
		t.Fatal(err)
	}
	want := `flags shop,blog|put shop message = "x", put blog message = "x"|delete shop, delete blog`
	if got := strings.Join(rm.calls, "|"); got != want {
		t.Fatalf("remote calls\n%s\nwant\n%s", got, want)
	}
}

// With the fleet, on builds on the fleet's flag: a host without a flag
// file (an admin box) that changes the message keeps the fleet's window.
func TestOnKeepsTheFleetsWindow(t *testing.T) {
	c := newController(t, "")
	until := t0.Add(2 * time.Hour)
	fleetFlag, err := flagfile.Encode(flagfile.Flag{Message: "old", Until: until, Allow: []string{"10.1.1.1"}, SetAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	rm := &remote{flags: map[string][]byte{"default": fleetFlag}}
	c.Remote = rm
	r, err := c.On(context.Background(), nil, Change{Message: "new", Set: map[string]bool{"message": true}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := flagfile.Parse(rm.flags["default"])
	if err != nil || f.Message != "new" || !f.Until.Equal(until) || len(f.Allow) != 1 {
		t.Fatalf("the fleet's flag after on --message: %+v %v", f, err)
	}
	if !r.Sites[0].Before.Present || r.Sites[0].Before.Flag.Message != "old" {
		t.Fatalf("before %+v", r.Sites[0].Before)
	}
}

// Redis took the change and the local write failed: the change is
// recorded and the error says the fleet has it.
func TestLocalFailureAfterTheFleetIsRecorded(t *testing.T) {
	c := newController(t, "")
	c.Config.FlagFile = filepath.Join(t.TempDir(), "gone", "maintenance")
	rm := &remote{}
	c.Remote = rm
	_, err := c.On(context.Background(), nil, Change{})
	if err == nil || !strings.Contains(err.Error(), "the fleet has the change") {
		t.Fatalf("err %v", err)
	}
	if got, _ := audit.Latest(c.Config.Panel.AuditLog, 10); len(got) != 1 || got[0].Action != "on" {
		t.Fatalf("audit lines %+v", got)
	}
	if _, ok := rm.flags["default"]; !ok {
		t.Fatal("the fleet does not hold the change")
	}
}
