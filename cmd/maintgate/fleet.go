package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/control"
	"github.com/maintgate/maintgate/flagfile"
	"github.com/maintgate/maintgate/fleet"
	"github.com/maintgate/maintgate/internal/regfile"
)

// fleet.go: the command line's side of the fleet (package fleet): the
// store on and off write first, the mirror the map runs, and the fleet
// lines of status.

// fleetWait bounds how long a command waits for Redis before it says it
// is unreachable.
const fleetWait = 5 * time.Second

// fleetRemote returns the fleet's store for on and off: nil when [fleet]
// redis is empty, or when local asks for this host only (a note then says
// that the fleet wins back at the next resync). done releases it. Redis
// is asked once here, so an unreachable Redis fails the change before
// anything is written anywhere.
func fleetRemote(ctx context.Context, e *env, cfg *config.Config, local bool) (control.Remote, func(), error) {
	if !fleet.Enabled(cfg) {
		return nil, func() {}, nil
	}
	if local {
		fmt.Fprintf(e.stderr, "# --local: only this host is switched, not the fleet (%s); the fleet wins: this host's map puts the fleet's state back at its next resync (within %s) or at the next fleet-wide on/off, and while Redis is unreachable, once it is back\n",
			config.RedactURL(cfg.Fleet.Redis), cfg.Fleet.Resync.Duration)
		return nil, func() {}, nil
	}
	r, done, err := fleetStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, fleetWait)
	defer cancel()
	if err := r.(*fleet.Store).Ping(pctx); err != nil {
		done()
		return nil, nil, fmt.Errorf("%v: nothing was changed on any host (--local switches this host only)", err)
	}
	return r, done, nil
}

// fleetStore is the panel's store: opened once for the panel's life and
// not asked at start (Redis may be down then; each change fails with its
// own error and changes nothing). nil when [fleet] redis is empty.
func fleetStore(cfg *config.Config) (control.Remote, func(), error) {
	if !fleet.Enabled(cfg) {
		return nil, func() {}, nil
	}
	s, err := fleet.Open(cfg.Fleet)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

// startFleet starts the map's mirror of the fleet (fleet.Mirror) when
// [fleet] redis is set; stop ends it, waiting at most 2 s.
func startFleet(ctx context.Context, cfg *config.Config, log *zerolog.Logger) (stop func()) {
	if !fleet.Enabled(cfg) {
		return func() {}
	}
	m, err := fleet.NewMirror(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("fleet: not followed; this host keeps its own flag files")
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
}

// printFleet prints the fleet lines of status: the link of this host's
// map (from the file it writes), and with all (status --fleet) what
// Redis holds for each site, beside this host's flag file.
func printFleet(ctx context.Context, e *env, cfg *config.Config, all bool) {
	if !fleet.Enabled(cfg) {
		if all {
			fmt.Fprintln(e.stdout, "fleet: not configured ([fleet] redis is empty): this host keeps its own flag files")
		}
		return
	}
	fmt.Fprintf(e.stdout, "fleet: %s (key %s, resync %s)\n", config.RedactURL(cfg.Fleet.Redis), cfg.Fleet.Key, cfg.Fleet.Resync.Duration)
	printLink(e, cfg, time.Now())
	if all {
		printRedis(ctx, e, cfg, time.Now().Truncate(time.Second))
	}
}

// printLink says how this host's map follows Redis.
func printLink(e *env, cfg *config.Config, now time.Time) {
	path := fleet.LinkPath(cfg)
	l, err := fleet.ReadLink(path)
	if err != nil {
		fmt.Fprintf(e.stdout, "  link:    unknown: no map has written %s (maintgate map follows Redis once it runs)\n", path)
		return
	}
	proc := e.proc
	if proc == "" {
		proc = "/proc"
	}
	if _, err := os.Stat(filepath.Join(proc, strconv.Itoa(l.PID))); err != nil {
		fmt.Fprintf(e.stdout, "  warning: the map that wrote %s (pid %d) no longer runs: nothing follows Redis on this host; its last view follows\n", path, l.PID)
	}
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return control.Rel(t.Truncate(time.Second), now.Truncate(time.Second))
	}
	if l.Connected {
		fmt.Fprintf(e.stdout, "  link:    connected since %s, last sync %s\n", ago(l.Since), ago(l.LastSync))
	} else {
		fmt.Fprintf(e.stdout, "  link:    NOT connected since %s (this host keeps its last known state), last sync %s\n", ago(l.Since), ago(l.LastSync))
	}
	if l.LastError != "" {
		fmt.Fprintf(e.stdout, "  error:   %s (%s)\n", l.LastError, ago(l.ErrorAt))
	}
	if strings.HasPrefix(l.Events, "refused") {
		fmt.Fprintf(e.stdout, "  events:  %s: changes reach this host only at each resync (every %s); the map asks again at each one (the Redis user needs the channel %s)\n",
			l.Events, cfg.Fleet.Resync.Duration, fleet.Keys{Prefix: cfg.Fleet.Key}.Events())
	}
	if l.Kept != "" {
		fmt.Fprintf(e.stdout, "  warning: Redis holds no flag and no marker for %s (flushed since, or never switched fleet-wide): this host keeps its flag on; run maintgate on or off for it to write the fleet's state\n", l.Kept)
	}
	if l.KeysLost {
		fmt.Fprintf(e.stdout, "  warning: Redis holds none of maintgate's keys (restarted without its data, or flushed): every host keeps its state; run maintgate on or off to write them again\n")
	}
}

// printRedis lists what Redis holds for every site it has a key for
// and every site configured here.
func printRedis(ctx context.Context, e *env, cfg *config.Config, now time.Time) {
	s, err := fleet.Open(cfg.Fleet)
	if err != nil {
		fmt.Fprintf(e.stdout, "  redis:   %v\n", err)
		return
	}
	defer s.Close()
	lctx, cancel := context.WithTimeout(ctx, fleetWait)
	defer cancel()
	snap, names, err := s.List(lctx)
	if err != nil {
		fmt.Fprintf(e.stdout, "  redis:   unreachable: %v\n", err)
		return
	}
	if snap.Written == "" {
		fmt.Fprintf(e.stdout, "  warning: Redis holds no %s marker: no on/off has written it since it started or was flushed; the maps keep their state until one does\n", fleet.Keys{Prefix: cfg.Fleet.Key}.Written())
	} else {
		fmt.Fprintf(e.stdout, "  written: %s\n", snap.Written)
	}
	for _, n := range cfg.SiteNames() {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range names {
		printRedisSite(e, cfg, n, snap, now)
	}
}

// printRedisSite prints one site as Redis holds it and whether this
// host's flag file agrees.
func printRedisSite(e *env, cfg *config.Config, name string, snap fleet.Snapshot, now time.Time) {
	data, on := snap.Flags[name]
	sw := control.Switch{Name: name, Present: on}
	if on {
		sw.Flag, sw.Err = flagfile.Parse(data)
	}
	st := sw.State(now)
	if sw.Err != nil {
		st += " (its flag does not parse: every host counts it as on)"
	}
	fmt.Fprintf(e.stdout, "fleet site %s: %s\n", name, st)
	if on && sw.Err == nil {
		printFlag(e, sw.Flag, now)
	}
	path, err := cfg.FlagFileOf(name)
	if err != nil {
		fmt.Fprintf(e.stdout, "  here:    not configured on this host\n")
		return
	}
	have, rerr := regfile.Read(path, flagfile.MaxSize+1)
	switch {
	case on && rerr == nil && bytes.Equal(have, data), !on && rerr != nil && os.IsNotExist(rerr):
		fmt.Fprintf(e.stdout, "  here:    %s agrees\n", path)
	default:
		fmt.Fprintf(e.stdout, "  here:    %s differs (a --local change, or not mirrored yet: the map applies Redis within a resync)\n", path)
	}
}
