// Command powchain mines, verifies, benchmarks and serves a proof-of-work
// chain whose blocks are byte-for-byte those of the Python reference node.
//
// Run `powchain help` for the commands and `powchain help COMMAND` for one.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
