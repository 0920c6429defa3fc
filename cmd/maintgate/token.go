package main

import (
	"context"
	"fmt"
	"time"

	"github.com/maintgate/maintgate/authz/token"
	"github.com/maintgate/maintgate/config"
)

// runToken issues a bypass token. The cookie value is all that goes to
// stdout, so `$(maintgate token issue)` is the value; the note on the
// cookie name and expiry goes to stderr.
func runToken(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "issue" {
		return usageError("token: the only subcommand is: token issue [--ttl D] [--label L]")
	}
	fs, cfgPath := flags(e, "token issue")
	ttl := fs.Duration("ttl", 8*time.Hour, "how long the token is valid")
	label := fs.String("label", "", "who or what the token is for; logged when it is used")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *ttl <= 0 {
		return usageError("token issue: --ttl must be positive")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.Token.KeyFile == "" {
		return fmt.Errorf("token issue: token.key_file is not set in %s, so tokens are off", cfg.Path)
	}
	key, err := token.LoadKey(cfg.Token.KeyFile)
	if err != nil {
		return err
	}
	now := time.Now()
	v, err := token.Issue(key, *label, now, now.Add(*ttl))
	if err != nil {
		return fmt.Errorf("token issue: %w", err)
	}
	fmt.Fprintln(e.stdout, v)
	fmt.Fprintf(e.stderr, "# cookie %s, label %q, expires %s\n", cfg.Token.Cookie, *label, now.Add(*ttl).Local().Format(time.RFC3339))
	return nil
}
