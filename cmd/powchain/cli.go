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

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// Exit codes, decided here and only here.
const (
	exitOK          = 0   // success
	exitInvalid     = 1   // verify: the chain is invalid
	exitUsage       = 2   // bad flags, unreadable or malformed input
	exitFailure     = 3   // a runtime failure: I/O, store, network
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM
)

const exitCodesHelp = `Exit codes:
  0    success
  1    verify, import: the chain is invalid (the first bad block and rule are printed)
  2    bad usage or bad input (unreadable file, invalid JSON, a missing or
       mistyped field, a difficulty out of range)
  3    runtime failure (I/O, storage, network)
  130  interrupted (SIGINT or SIGTERM); serve and worker shut down cleanly and exit 0`

// env is what a command may touch: its streams. Tests pass buffers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand: its flags are declared by setup on a fresh
// FlagSet and it runs with the remaining arguments.
type command struct {
	name    string
	args    string // the positional arguments, for usage
	summary string
	setup   func(fs *flag.FlagSet) func(ctx context.Context, e env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// Error kinds that decide the exit code.
type (
	usageError   struct{ err error } // exit 2
	invalidError struct{ err error } // exit 1
)

func (e usageError) Error() string   { return e.err.Error() }
func (e usageError) Unwrap() error   { return e.err }
func (e invalidError) Error() string { return e.err.Error() }
func (e invalidError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// badInput marks an error about the input as exit 2.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// exitCode maps an error from a command to the process exit code.
func exitCode(err error) int {
	var u usageError
	var inv invalidError
	var se *pyjson.SyntaxError
	var fe *engine.FieldError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled), errors.Is(err, engine.ErrCanceled):
		return exitInterrupted
	case errors.As(err, &inv):
		return exitInvalid
	case errors.As(err, &u), errors.As(err, &se), errors.As(err, &fe):
		return exitUsage
	}
	return exitFailure
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				commandUsage(stdout, c)
				return exitOK
			}
		}
		usage(stdout)
		return exitOK
	case "version", "--version":
		fmt.Fprintln(stdout, "powchain", version())
		return exitOK
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "powchain: unknown command %q\n\n", name)
		usage(stderr)
		return exitUsage
	}
	fs := flag.NewFlagSet("powchain "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runFn := c.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, c)
			return exitOK
		}
		fmt.Fprintf(stderr, "powchain %s: %v\n", c.name, err)
		fmt.Fprintf(stderr, "run 'powchain help %s' for usage\n", c.name)
		return exitUsage
	}
	err := runFn(ctx, e, fs.Args())
	code := exitCode(err)
	if err != nil {
		fmt.Fprintf(stderr, "powchain %s: %v\n", c.name, err)
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: powchain COMMAND [flags] [args]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  version  print the version")
	fmt.Fprintln(w, "\nRun 'powchain help COMMAND' for a command's flags.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, exitCodesHelp)
}

func commandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: powchain %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", b.String())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, exitCodesHelp)
}

// readInput reads the single optional FILE argument, or stdin without one
// or with "-".
func readInput(e env, args []string) ([]byte, string, error) {
	switch {
	case len(args) > 1:
		return nil, "", usagef("want at most one FILE argument, got %d", len(args))
	case len(args) == 0 || args[0] == "-":
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, "", usagef("reading stdin: %v", err)
		}
		return data, "stdin", nil
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return nil, "", usagef("%v", err)
	}
	return data, args[0], nil
}
