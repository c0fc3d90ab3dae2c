package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/powchain/powchain/engine"
)

func init() {
	register(&command{
		name:    "hash",
		args:    "[FILE]",
		summary: "print the hash of one block read as JSON from FILE or stdin; --header: a Bitcoin header's sha256d",
		examples: []string{
			"powchain hash examples/mined.json   # a block with its nonce: the hash it carries",
			"powchain mine examples/block.json | powchain hash   # the hash the mined block carries",
			"powchain hash --header header.hex   # a Bitcoin header's sha256d, in the usual reversed hex",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			var h headerFlags
			h.registerHeader(fs)
			return func(ctx context.Context, e env, args []string) error {
				if h.header != "" {
					return runHashHeader(e, h.header, args)
				}
				return runHash(ctx, e, args)
			}
		},
	})
}

// runHash prints the 64-hex hash of one block. A "hash" key in the input is
// ignored, as it is never hashed.
func runHash(ctx context.Context, e env, args []string) error {
	data, name, err := readInput(ctx, e, args)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := engine.DecodeBlock(data, engine.BlockOptions{})
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", name, err))
	}
	if _, err := b.Canonical(); err != nil {
		return badInput(fmt.Errorf("%s: %w", name, err))
	}
	_, err = fmt.Fprintln(e.stdout, b.ComputeHash())
	return err
}
