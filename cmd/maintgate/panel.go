package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/maintgate/maintgate/config"
	"github.com/maintgate/maintgate/panel"
)

// runPanel serves the web control panel (package panel) until SIGTERM or
// SIGINT. It is a separate process from the map: whatever happens to it,
// the gate goes on deciding from the files.
func runPanel(ctx context.Context, e *env, args []string) error {
	fs, cfgPath := flags(e, "panel")
	listen := fs.String("listen", "", "`address` host:port or unix:/path (default [panel] listen)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *listen == "" {
		*listen = cfg.Panel.Listen
	} else if path, ok := strings.CutPrefix(*listen, "unix:"); ok && !filepath.IsAbs(path) {
		// As config check says of [panel] listen.
		return usageError("panel: -listen %q: a socket is unix:/absolute/path", *listen)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Info and up: the session checker's per-lookup debug lines are for
	// the map's log.
	log := zerolog.New(e.stderr).Level(zerolog.InfoLevel).With().Timestamp().Str("component", "panel").Logger()
	// The fleet's store (fleet.go), opened once and not asked now: a
	// Redis that is down when the panel starts fails each change with its
	// own error, never the panel.
	remote, done, err := fleetStore(cfg)
	if err != nil {
		return err
	}
	defer done()
	l, unix, err := panelListen(*listen)
	if err != nil {
		return err
	}
	defer l.Close()
	p, err := panel.New(ctx, panel.Options{Config: cfg, Remote: remote, Logger: &log, UnixSocket: unix})
	if err != nil {
		return err
	}
	defer p.Close()
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	log.Info().Str("listen", *listen).Strs("auth", cfg.Panel.Auth).Str("config", cfg.Path).Msg("panel serving")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("panel: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("panel: shutdown: %w", err)
	}
	return nil
}

// panelListen opens host:port, or unix:/path (a stale socket file left
// by a crash is replaced; the socket is 0660, for Apache's group).
func panelListen(addr string) (net.Listener, bool, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, false, fmt.Errorf("panel: listen %s: %w", addr, err)
		}
		return l, false, nil
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, true, fmt.Errorf("panel: listen %s: %w", addr, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, true, fmt.Errorf("panel: %w", err)
	}
	return l, true, nil
}
