package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/powchain/powchain/node"
)

func init() {
	register(&command{
		name:    "loadgen",
		args:    "chain",
		summary: "build a big valid chain quickly: loadgen chain --blocks N --difficulty D --out DIR",
		examples: []string{
			"powchain loadgen chain --blocks 100000 --difficulty 1 --out ./big   # then: powchain serve --data ./big --difficulty 1",
			"powchain loadgen chain --blocks 1000 --out ./big   # adds 1000 more blocks after the tip of ./big",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			o := &loadgenOptions{}
			fs.StringVar(&o.out, "out", "powchain-data", "data directory `DIR` to build or extend (a node's --data)")
			fs.IntVar(&o.blocks, "blocks", 1000, "`N` blocks to add after the store's tip")
			fs.IntVar(&o.txBytes, "tx-bytes", 440, "`N` bytes of transaction content per block (440 makes blocks of about 765 bytes on the wire, 280 about 605)")
			fs.StringVar(&o.author, "author", "synth", "the transactions' author: two chains grown from copies of one store with different authors fork there")
			fs.StringVar(&o.progress, "progress", "auto", "progress on stderr: `MODE` auto (a status line when stderr is a terminal, else a line every 10 s), always (the status line) or never")
			o.difficulty.register(fs, 1)
			return func(ctx context.Context, e env, args []string) error {
				// Flags may follow the word "chain" too.
				if len(args) > 1 && args[0] == "chain" {
					if err := fs.Parse(args[1:]); err != nil {
						return usagef("%v", err)
					}
					args = append([]string{"chain"}, fs.Args()...)
				}
				return runLoadgen(ctx, e, o, args)
			}
		},
	})
}

type loadgenOptions struct {
	out        string
	blocks     int
	txBytes    int
	author     string
	progress   string
	difficulty difficultyFlags
}

// loadgenLogEvery is how often loadgen writes a progress line when
// stderr is not a terminal.
const loadgenLogEvery = 10 * time.Second

// runLoadgen mines --blocks blocks of one transaction each onto the store
// in --out and reports the length and the time taken.
func runLoadgen(ctx context.Context, e env, o *loadgenOptions, args []string) error {
	if len(args) != 1 || args[0] != "chain" {
		return usagef("want the argument chain (what to generate), got %q", args)
	}
	if o.blocks < 0 {
		return usagef("--blocks must not be negative, got %d", o.blocks)
	}
	if o.txBytes < 1 {
		return usagef("--tx-bytes must be at least 1, got %d", o.txBytes)
	}
	target, err := o.difficulty.target()
	if err != nil {
		return err
	}
	live, err := wantProgress(o.progress, e.stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	last := start
	length, err := node.Synthesize(ctx, o.out, target, node.SynthOptions{
		Blocks:  o.blocks,
		TxBytes: o.txBytes,
		Author:  o.author,
		Progress: func(l int) {
			switch now := time.Now(); {
			case live:
				fmt.Fprintf(e.stderr, "\r\033[Kloadgen: %d blocks, %v elapsed", l, now.Sub(start).Round(time.Second))
			case o.progress != "never" && now.Sub(last) >= loadgenLogEvery:
				last = now
				fmt.Fprintf(e.stderr, "loadgen: %d blocks, %v elapsed\n", l, now.Sub(start).Round(time.Second))
			}
		},
	})
	if live {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if errors.Is(err, node.ErrDataDirMismatch) || errors.Is(err, node.ErrDataDirLocked) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d blocks at %v in %v\n", o.out, length, target, time.Since(start).Round(time.Millisecond))
	return nil
}
