package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/powchain/powchain/engine"
)

func init() {
	register(&command{
		name:    "verify",
		args:    "[FILE]",
		summary: "check a chain dump (GET /chain answer or a JSON array of blocks)",
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			var d difficultyFlags
			d.register(fs, 2)
			return func(ctx context.Context, e env, args []string) error {
				return runVerify(ctx, e, &d, args)
			}
		},
	})
}

// runVerify validates a chain dump. Valid: a one-line summary and exit 0.
// Invalid: the first bad block's index and rule on stdout and exit 1.
func runVerify(_ context.Context, e env, d *difficultyFlags, args []string) error {
	target, err := d.target()
	if err != nil {
		return err
	}
	data, name, err := readInput(e, args)
	if err != nil {
		return err
	}
	dump, err := engine.DecodeDump(data)
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", name, err))
	}
	if err := engine.ValidateChain(dump.Blocks, target); err != nil {
		var re *engine.RuleError
		if errors.As(err, &re) {
			fmt.Fprintf(e.stdout, "invalid: block %d (position %d) breaks rule %s: %s\n", re.Index, re.Position, re.Rule, re.Detail)
		} else {
			fmt.Fprintf(e.stdout, "invalid: %v\n", err)
		}
		return invalidError{err}
	}
	last := dump.Blocks[len(dump.Blocks)-1]
	_, err = fmt.Fprintf(e.stdout, "valid: %d blocks at %v, last block %d hash %s\n", len(dump.Blocks), target, last.Index, last.Hash)
	return err
}
