package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/maintgate/maintgate/gate"
	"github.com/maintgate/maintgate/rewritemap"
)

// runMap is the RewriteMap prg: loop. stdout belongs to the protocol: only
// answer lines go there; logs go to log.file or stderr (Apache's error log).
func runMap(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "map")
	if err := parse(fs, args); err != nil {
		return err
	}
	// Apache closing our stdout must end us quietly with an error from
	// Write, not kill us with SIGPIPE halfway through a log line.
	signal.Ignore(syscall.SIGPIPE)
	o := gate.Options{ConfigPath: *cfgPath, AsyncLog: true, Watch: true}
	// For the tests that read stats_file through the binary: not a
	// config key and not documented, so no operator depends on it.
	if v := e.getenv("MAINTGATE_TEST_STATS_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("MAINTGATE_TEST_STATS_INTERVAL: %w", err)
		}
		o.StatsInterval = d
	}
	g, err := gate.Open(o)
	if err != nil {
		return err
	}
	s := g.Snapshot()
	g.Logger().Info().Str("config", s.Config.Path).Str("flag_file", s.Config.FlagFile).Str("stats_file", s.Config.StatsFile).
		Bool("active", g.Window().Active(s.Loaded)).Int("pid", os.Getpid()).Msg("map started")
	g.LogWarnings(s)
	// The fleet's mirror writes the local flag files; the watcher does the
	// rest. A map started with a broken config follows no fleet until
	// restarted (its flag paths are unknown).
	stopFleet := func() {}
	if !s.Broken {
		stopFleet = startFleet(ctx, s.Config, g.Logger())
	}

	// Apache stops the program with SIGTERM. The loop cannot be woken from
	// its read(2) on a blocking pipe (closing the file waits for the read),
	// so it runs beside this select: a signal ends runMap while the read
	// is still pending, main exits, and the log is flushed by Close first.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- rewritemap.Serve(e.stdin, e.stdout, g) }()
	select {
	case err = <-served:
		if err != nil {
			g.Logger().Warn().Err(err).Msg("map stopped")
		} else {
			g.Logger().Info().Msg("map stopped: end of input")
		}
	case <-ctx.Done():
		// The cause names the signal ("terminated signal received").
		g.Logger().Info().Str("cause", context.Cause(ctx).Error()).Msg("map stopped")
	}
	stopFleet() // before Close: its last log lines go through the logger
	g.Close()
	// A closed stdout is how Apache says goodbye, not a failure; nor is
	// the SIGTERM it stops us with.
	return nil
}
