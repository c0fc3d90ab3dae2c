package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/term"

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
       mistyped field, a difficulty out of range, a listen address or an
       output file that cannot be used, no FILE with stdin a terminal)
  3    runtime failure (I/O, storage, network)
  130  interrupted (SIGINT or SIGTERM); serve and worker shut down cleanly and exit 0`

// env is what a command may touch: its streams. Tests pass buffers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stdinTerminal  bool // stdin is a terminal: FILE must be given
}

// command is one subcommand: its flags are declared by setup on a fresh
// FlagSet and it runs with the remaining arguments.
type command struct {
	name     string
	args     string // the positional arguments, for usage
	summary  string
	examples []string // command lines, each optionally with "# what it does"
	setup    func(fs *flag.FlagSet) func(ctx context.Context, e env, args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// Error kinds that decide the exit code.
type (
	usageError   struct{ err error } // exit 2
	invalidError struct{ err error } // exit 1
	// reportedError has been told to the user already (verify and import
	// print the bad block on stdout): run prints nothing more.
	reportedError struct{ err error }
	// stdinTerminalError is exit 2 with the command's usage: no FILE was
	// given and stdin is a terminal, where nobody is going to type JSON.
	stdinTerminalError struct{}
)

func (e usageError) Error() string    { return e.err.Error() }
func (e usageError) Unwrap() error    { return e.err }
func (e invalidError) Error() string  { return e.err.Error() }
func (e invalidError) Unwrap() error  { return e.err }
func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }
func (stdinTerminalError) Error() string {
	return "no FILE given and stdin is a terminal: name a FILE, or pipe the JSON in"
}

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
	var st stdinTerminalError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled), errors.Is(err, engine.ErrCanceled):
		return exitInterrupted
	case errors.As(err, &inv):
		return exitInvalid
	case errors.As(err, &u), errors.As(err, &se), errors.As(err, &fe), errors.As(err, &st):
		return exitUsage
	}
	return exitFailure
}

// packagePrefix matches the package names the libraries start their
// messages with ("engine: ", "pyjson: "), at the start of a message or of
// a wrapped one: words about the code, not about the user's input.
var packagePrefix = regexp.MustCompile(`(^|: )(engine|pyjson|hasher|node|bench): `)

// userMessage is an error as the user reads it: without package prefixes.
func userMessage(err error) string {
	return packagePrefix.ReplaceAllString(err.Error(), "$1")
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
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(stderr, "powchain help: unknown command %q\n\n", args[1])
				commandList(stderr)
				return exitUsage
			}
			commandUsage(stdout, c)
			return exitOK
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
	pos, err := parseAnywhere(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, c)
			return exitOK
		}
		fmt.Fprintf(stderr, "powchain %s: %v\n", c.name, err)
		fmt.Fprintf(stderr, "run 'powchain help %s' for usage\n", c.name)
		return exitUsage
	}
	if isTerminal(stdin) {
		e.stdinTerminal = true
	}
	err = runFn(ctx, e, pos)
	code := exitCode(err)
	var st stdinTerminalError
	var rep reportedError
	switch {
	case err == nil, errors.As(err, &rep):
	case errors.As(err, &st):
		fmt.Fprintf(stderr, "powchain %s: %v\n\n", c.name, err)
		commandUsage(stderr, c)
	case code == exitInterrupted && !strings.Contains(err.Error(), "interrupted"):
		fmt.Fprintf(stderr, "powchain %s: interrupted\n", c.name)
	default:
		fmt.Fprintf(stderr, "powchain %s: %s\n", c.name, userMessage(err))
	}
	return code
}

// parseAnywhere parses fs's flags wherever they stand among the positional
// arguments (powchain mine block.json --difficulty 5) and returns the
// positional arguments in order. "--" ends the flags: everything after it
// is positional.
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		// Flags up to the first positional argument or "--".
		i := 0
		for i < len(args) && args[i] != "--" && (len(args[i]) < 2 || args[i][0] != '-') {
			i++
		}
		pos = append(pos, args[:i]...)
		args = args[i:]
		if len(args) == 0 {
			return pos, nil
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		args = rest
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: powchain COMMAND [flags] [args]")
	fmt.Fprintln(w)
	commandList(w)
	fmt.Fprintln(w, "\nRun 'powchain help COMMAND' for a command's flags and examples. Flags may")
	fmt.Fprintln(w, "come before or after FILE; FILE is read from stdin when absent or -.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, exitCodesHelp)
}

// commandList prints the commands and their summaries.
func commandList(w io.Writer) {
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  help     print this help, or a command's: powchain help COMMAND")
	fmt.Fprintln(w, "  version  print the version")
}

// commandUsage prints one command's usage, flags and examples. The exit
// codes are in the top-level help only.
func commandUsage(w io.Writer, c *command) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	nflags := 0
	fs.VisitAll(func(*flag.Flag) { nflags++ })
	line := "powchain " + c.name
	if nflags > 0 {
		line += " [flags]"
	}
	if c.args != "" {
		line += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", line, c.summary)
	if nflags > 0 {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, fs)
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nExamples:")
		for _, ex := range c.examples {
			fmt.Fprintf(w, "  %s\n", ex)
		}
	}
	fmt.Fprintln(w, "\nRun 'powchain help' for the exit codes.")
}

// printFlags lists fs's flags with their usage and, when it means
// something, their default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typ, text := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if typ != "" {
			head += " " + typ
		}
		switch {
		case f.DefValue == "", f.DefValue == "0", f.DefValue == "0s", f.DefValue == "false":
		case strings.Contains(text, "default"): // the usage says it in words
		default:
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", head, text)
	})
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readInput reads the single optional FILE argument, or stdin without one
// or with "-". Without a FILE, stdin must not be a terminal (a person would
// be left waiting for nothing); with "-" it is read whatever it is. The
// read stops when ctx is done, so a signal interrupts it at once.
func readInput(ctx context.Context, e env, args []string) ([]byte, string, error) {
	switch {
	case len(args) > 1:
		return nil, "", usagef("want at most one FILE argument, got %d", len(args))
	case len(args) == 0 && e.stdinTerminal:
		return nil, "", stdinTerminalError{}
	case len(args) == 0 || args[0] == "-":
		data, err := readAll(ctx, e.stdin)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", err
			}
			return nil, "", usagef("reading stdin: %v", err)
		}
		return data, "stdin", nil
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return nil, "", usagef("%v", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	return data, args[0], nil
}

// openInput is readInput for a command that reads its input as a stream:
// it opens the FILE argument, or stdin, without reading it. Reads from
// stdin stop when ctx is done. close releases the file.
func openInput(ctx context.Context, e env, args []string) (r io.Reader, name string, close func(), err error) {
	switch {
	case len(args) > 1:
		return nil, "", nil, usagef("want at most one FILE argument, got %d", len(args))
	case len(args) == 0 && e.stdinTerminal:
		return nil, "", nil, stdinTerminalError{}
	case len(args) == 0 || args[0] == "-":
		return &ctxReader{ctx: ctx, r: e.stdin}, "stdin", func() {}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, "", nil, usagef("%v", err)
	}
	return f, args[0], func() { f.Close() }, nil
}

// ctxReader reads from r until ctx is done, then returns ctx's error at
// once. A read that never returns is left behind, into a buffer of its
// own: the process is about to exit.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	buf []byte
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	buf := c.buf[:len(p)]
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := c.r.Read(buf)
		ch <- result{n, err}
	}()
	select {
	case res := <-ch:
		return copy(p, buf[:res.n]), res.err
	case <-c.ctx.Done():
		c.buf = nil // the read left behind keeps the old one
		return 0, c.ctx.Err()
	}
}

// readAll reads r to its end, or returns ctx's error as soon as ctx is
// done. A read that never returns is left behind: the process is about to
// exit.
func readAll(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(r)
		ch <- result{data, err}
	}()
	select {
	case res := <-ch:
		return res.data, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
