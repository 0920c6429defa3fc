// Command maintgate is the maintenance gate Apache httpd asks, through a
// RewriteMap prg: program, whether a request may pass during maintenance;
// and the command line operators use to switch maintenance on and off.
//
// main parses nothing itself: run picks the subcommand (one file each),
// prints its error and returns the exit status, and main is the only place
// that exits. What goes to stdout and stderr is written down at the top of
// output.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	// session.time_zone must resolve on hosts without tzdata too.
	_ "time/tzdata"

	"github.com/maintgate/maintgate/config"
)

// command is one subcommand: its own flag set, a Run and a usage line.
type command struct {
	usage string
	run   func(ctx context.Context, env *env, args []string) error
}

// env is what a subcommand may touch of the process: its streams and
// environment, so tests can drive main's logic without a subprocess.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// config is a -config given before the command (maintgate -config X
	// status), "" when none; the command's flags take it as their default.
	config string
	// proc is where the map processes are looked for; "" is /proc.
	proc string
}

var commands = map[string]command{
	"map":     {"map [-config FILE]                RewriteMap prg: loop on stdin/stdout", runMap},
	"authz":   {"authz [-config FILE]              mod_authnz_external checker", runAuthz},
	"on":      {"on [--site NAME]... [--message M] [--start T] [--until T] [--allow IP/CIDR]... [--allow-path /PREFIX]... [--clear] [--local]", runOn},
	"off":     {"off [--site NAME]... [--local]   end maintenance", runOff},
	"status":  {statusUsage, runStatus},
	"check":   {"check [--site NAME] --ip IP --path P [--xff X] [--cookie C]   print the decision", runCheck},
	"token":   {"token issue [--ttl D] [--label L]   print a bypass cookie value", runToken},
	"config":  {"config check                     validate and print the effective config", runConfig},
	"panel":   {"panel [-listen ADDR]             the web control panel ([panel] in the config)", runPanel},
	"setup":   {"setup django --settings-module M   read a Django project's settings, write [session]", runSetup},
	"version": {"version                          print the version", runVersion},
}

func main() {
	os.Exit(run(context.Background(), &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:]))
}

func run(ctx context.Context, e *env, args []string) int {
	cfg, args, err := leadingConfig(args)
	if err != nil {
		return report(e.stderr, err)
	}
	e.config = cfg
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "maintgate: unknown command %q\n", args[0])
		usage(e.stderr)
		return 2
	}
	return report(e.stderr, c.run(ctx, e, args[1:]))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: maintgate COMMAND [flags]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  maintgate %s\n", commands[n].usage)
	}
	fmt.Fprintf(w, "\nEvery command takes -config FILE, before or after the command (default $MAINTGATE_CONFIG, else %s).\n", config.DefaultPath)
	fmt.Fprintln(w, "--site NAME is a [sites.NAME] of the config, or default: the server-wide switch.")
}

// leadingConfig takes a -config FILE (or --config, or =FILE) given before
// the command off args: the form `alias mg='maintgate -config X'` makes.
// It returns the file, "" when there is none, and the rest of args.
func leadingConfig(args []string) (string, []string, error) {
	if len(args) == 0 {
		return "", args, nil
	}
	name, val, hasVal := strings.Cut(args[0], "=")
	if name != "-config" && name != "--config" {
		return "", args, nil
	}
	rest := args[1:]
	if !hasVal {
		if len(rest) == 0 {
			return "", nil, usageError("-config needs a file name")
		}
		val, rest = rest[0], rest[1:]
	}
	if val == "" {
		return "", nil, usageError("-config needs a file name")
	}
	return val, rest, nil
}

// configFlag is the -config flag. Given before the command too, it is
// refused after it: which of the two was meant cannot be known.
type configFlag struct {
	path   string
	before string // the -config given before the command
}

func (c *configFlag) String() string {
	if c == nil {
		return ""
	}
	return c.path
}

func (c *configFlag) Set(s string) error {
	if c.before != "" {
		return fmt.Errorf("-config %s was given before the command too; give it once", c.before)
	}
	c.path = s
	return nil
}

// flags makes a subcommand's flag set with the -config flag every command
// shares. Errors are returned, not printed and exited on.
func flags(e *env, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("maintgate "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := &configFlag{path: e.config, before: e.config}
	if c.path == "" {
		c.path = e.getenv("MAINTGATE_CONFIG")
	}
	if c.path == "" {
		c.path = config.DefaultPath
	}
	fs.Var(c, "config", "configuration `file`")
	return fs, &c.path
}

// parse parses args and rejects stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return usageError("%s: unexpected argument %q", fs.Name(), strings.Join(fs.Args(), " "))
	}
	return nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }
