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

	// Apache stops the program with SIGTERM; flush the log first.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		g.Logger().Info().Msg("map stopped by signal")
		g.Close()
		os.Exit(0)
	}()

	err = rewritemap.Serve(e.stdin, e.stdout, g)
	if err != nil {
		g.Logger().Warn().Err(err).Msg("map stopped")
	} else {
		g.Logger().Info().Msg("map stopped: end of input")
	}
	g.Close()
	// A closed stdout is how Apache says goodbye, not a failure.
	return nil
}
