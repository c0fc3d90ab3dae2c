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
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first SIGINT or SIGTERM cancels ctx: every command stops at
		// once (exit 130; serve shuts down cleanly and exits 0). A second
		// one ends the process whatever it is doing.
		<-sigs
		cancel()
		<-sigs
		os.Exit(exitInterrupted)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
