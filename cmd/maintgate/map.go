package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

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
	g, err := gate.Open(gate.Options{ConfigPath: *cfgPath, AsyncLog: true, Watch: true})
	if err != nil {
		return err
	}
	s := g.Snapshot()
	g.Logger().Info().Str("config", s.Config.Path).Str("flag_file", s.Config.FlagFile).
		Bool("active", g.Window().Active(s.Loaded)).Int("pid", os.Getpid()).Msg("map started")
	g.LogWarnings(s)

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
	g.Close()
	// A closed stdout is how Apache says goodbye, not a failure; nor is
	// the SIGTERM it stops us with.
	return nil
}
