package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/node"
)

func init() {
	register(&command{
		name:    "verify",
		args:    "[FILE]",
		summary: "check a chain dump (GET /chain answer or a JSON array of blocks); exit 1 names the first bad block and rule",
		examples: []string{
			"powchain verify --difficulty 2 chain.json",
			"curl -s http://127.0.0.1:8000/chain | powchain verify --difficulty 2",
			"powchain export --data ./node-a | powchain verify --difficulty 2 -",
		},
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
// Invalid: the first bad block's index, hash and rule on stdout, once, and
// exit 1. The dump is read as a stream (node.ScanDump): memory holds a
// block or two, whatever the dump's length.
func runVerify(ctx context.Context, e env, d *difficultyFlags, args []string) error {
	target, err := d.target()
	if err != nil {
		return err
	}
	r, name, closeInput, err := openInput(ctx, e, args)
	if err != nil {
		return err
	}
	defer closeInput()
	scan, err := node.ScanDump(ctx, r, target, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return badInput(fmt.Errorf("%s: %w", name, err))
	}
	if scan.Invalid != nil {
		return reportInvalid(e, scan.Bad, scan.Invalid, name)
	}
	_, err = fmt.Fprintf(e.stdout, "valid: %d blocks at %v, last block %d hash %s\n", scan.Blocks, target, scan.Last.Index, scan.Last.Hash)
	return err
}

// Limits of what a failure shows of the user's block: a block may be
// megabytes long, a message must stay one glance long.
const (
	maxDetail  = 200 // bytes of the rule's explanation
	maxExcerpt = 120 // bytes of the block's JSON
	maxHash    = 64  // bytes of the hash the block carries
)

// reportInvalid prints the failure of a chain validation on stdout, once:
// the bad block b's index, position and hash, the rule it breaks, and a
// short excerpt of the block. It returns the error that makes the exit
// code 1 without being printed again.
func reportInvalid(e env, b *engine.Block, err error, name string) error {
	var re *engine.RuleError
	if !errors.As(err, &re) {
		fmt.Fprintf(e.stdout, "invalid: %s: %s\n", name, clip(userMessage(err), maxDetail))
		return reportedError{invalidError{err}}
	}
	hash := "(none)"
	if b != nil && b.Hash != "" {
		hash = clip(b.Hash, maxHash)
	}
	fmt.Fprintf(e.stdout, "invalid: block %d (position %d) hash %s breaks rule %s: %s\n",
		re.Index, re.Position, hash, re.Rule, clip(re.Detail, maxDetail))
	if b != nil {
		if wire, werr := b.MarshalWire(); werr == nil {
			fmt.Fprintf(e.stdout, "  block %d: %s\n", re.Index, excerpt(wire, maxExcerpt))
		}
	}
	return reportedError{invalidError{err}}
}

// clip shortens s to at most n bytes, cut at a character boundary, marking
// the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// excerpt is the start of a block's JSON, with its full size when cut.
func excerpt(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return clip(string(b[:n+1]), n) + " (" + size(len(b)) + " in all)"
}

// size formats a byte count.
func size(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}
