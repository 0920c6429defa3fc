package main

// Output rules of every subcommand, kept here with the helpers that print
// (age writes its rules the same way, at the top of the file that prints):
//
//   - stdout carries what the user or a script asked for, and nothing else:
//     in `map` the answer lines, one per key line (stdout is the protocol);
//     in `token issue` the cookie value alone on the first line; in `check`
//     a line that starts with "allow:" or "redirect:"; in `status` the
//     original shell check's "Maintenance Mode: ACTIVE|INACTIVE" first
//     (kept word for word, capitals included), then "  name: value" lines;
//     in `config check` the effective configuration as TOML, with "# "
//     comment lines around it.
//   - stderr carries the rest: errors as "maintgate: <command>: <what>",
//     warnings as "maintgate: warning: <what>", notes as "# <note>"; lower
//     case, no final period, a file named with its line when there is one.
//   - only run (main.go) prints an error, once, through report, and only
//     main exits. Exit status: 0 success ("allow" for check, accepted for
//     authz); 1 "redirect" for check, "denied" for authz, or a failure;
//     2 a usage error (the flag package has printed the usage).
//   - `map` and `authz` log to log.file or stderr (Apache's error log),
//     never to stdout; a log line never holds a cookie, token or password.

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// exitError carries an exit status other than 1 (check's "redirect" is 1
// without being a failure; usage errors are 2) and the message, if any.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// report prints err as the rules above say and returns the exit status.
func report(w io.Writer, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(w, "maintgate: %s\n", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(w, "maintgate: %v\n", err)
	return 1
}

// warnf prints a warning to stderr: something was wrong, and the command
// went on with the fallback the message names.
func warnf(e *env, format string, args ...any) {
	fmt.Fprintf(e.stderr, "maintgate: warning: "+format+"\n", args...)
}
