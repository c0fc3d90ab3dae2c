package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/fleet"
)

func init() {
	register(&command{
		name:    "mine",
		args:    "[FILE]",
		summary: "mine a block template (index, transactions, timestamp, previous_hash) and print the mined block; --header mines a Bitcoin header",
		examples: []string{
			"powchain mine --difficulty 5 examples/block.json   # the lowest nonce with 5 leading hex zeros",
			"powchain mine examples/block.json --bits 22 --workers 1 --hasher shani1",
			"powchain mine --header header.hex --start 2083236000   # a Bitcoin header (160 hex characters): sha256d, target from its nBits",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			o := &mineOptions{}
			o.difficulty.register(fs, 2)
			o.miner.register(fs)
			o.nats.register(fs, true)
			o.profile.register(fs)
			fs.StringVar(&o.progress, "progress", "auto", "status line on stderr: `MODE` auto (when stderr is a terminal), always or never")
			o.header.registerMine(fs)
			fs.Lookup("bits").Usage += " (with --header: the compact nBits in hex, e.g. 1d00ffff)"
			return func(ctx context.Context, e env, args []string) error {
				set := map[string]bool{}
				fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
				if o.header.header != "" {
					return runMineHeader(ctx, e, o, args, set)
				}
				for _, name := range []string{"target", "start", "roll-time"} {
					if set[name] {
						return usagef("--%s needs --header", name)
					}
				}
				return runMine(ctx, e, o, args)
			}
		},
	})
}

type mineOptions struct {
	difficulty difficultyFlags
	miner      minerFlags
	nats       natsFlags
	profile    profileFlags
	progress   string
	header     headerFlags
}

// runMine mines one block: the lowest nonce, the one the seed's loop finds.
// The block goes to stdout as one line of JSON with keys sorted; status
// goes to stderr. With --nats or --nats-listen a fleet of workers mines
// too, and the block is the same.
func runMine(ctx context.Context, e env, o *mineOptions, args []string) (err error) {
	target, err := o.difficulty.target()
	if err != nil {
		return err
	}
	m, err := fleetMiner(&o.miner, o.nats.enabled())
	if err != nil {
		return err
	}
	live, err := wantProgress(o.progress, e.stderr)
	if err != nil {
		return err
	}
	data, name, err := readInput(ctx, e, args)
	if err != nil {
		return err
	}
	b, err := engine.DecodeBlock(data, engine.BlockOptions{NoNonce: true})
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", name, err))
	}
	if _, err := b.Canonical(); err != nil {
		return badInput(fmt.Errorf("%s: %w", name, err))
	}
	stop, err := o.profile.start()
	if err != nil {
		return err
	}
	defer stopProfiles(stop, &err)

	var solver engine.Solver = m
	hashes := func() uint64 { return m.Hashes() }
	var coord *fleet.Coordinator
	if o.nats.enabled() {
		var closeFleet func()
		coord, closeFleet, err = o.nats.coordinator(ctx, m, plainLogger(e.stderr))
		if err != nil {
			return err
		}
		defer closeFleet()
		solver = coord
		hashes = func() uint64 { return coord.Stats().Hashes }
	}

	done := make(chan struct{})
	if live {
		go statusLine(e.stderr, hashes, target.Bits(), done)
	}
	mined, res, err := engine.MineBlock(ctx, solver, b, target)
	close(done)
	if coord != nil {
		printWorkerTotals(e.stderr, coord)
	}
	if err != nil {
		return err
	}
	out, err := mined.MarshalWire()
	if err != nil {
		return err
	}
	who := "a fleet"
	if m != nil && coord == nil {
		who = fmt.Sprintf("%s, %d workers", m.Hasher().Name(), m.Workers())
	}
	fmt.Fprintf(e.stderr, "mined block %d at %v: nonce %d after %d hashes in %v (%s, %s)\n",
		mined.Index, target, mined.Nonce, res.Hashes, res.Elapsed.Round(time.Microsecond),
		rate(float64(res.Hashes)/res.Elapsed.Seconds()), who)
	_, err = fmt.Fprintf(e.stdout, "%s\n", out)
	return err
}

func wantProgress(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		f, ok := w.(*os.File)
		if !ok {
			return false, nil
		}
		st, err := f.Stat()
		return err == nil && st.Mode()&os.ModeCharDevice != 0, nil
	}
	return false, usagef("--progress must be auto, always or never, got %q", mode)
}

// statusLine redraws a one-line status on w twice a second until done is
// closed: hashes, rate, elapsed time and the expected time to a solution
// at this difficulty. It must be run as a goroutine.
func statusLine(w io.Writer, hashes func() uint64, bits int, done <-chan struct{}) {
	start, base := time.Now(), hashes()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	expected := math.Ldexp(1, bits)
	for {
		select {
		case <-done:
			fmt.Fprint(w, "\r\033[K")
			return
		case <-tick.C:
			el := time.Since(start)
			h := float64(hashes() - base)
			r := h / el.Seconds()
			eta := "?"
			if r > 0 {
				eta = (time.Duration(expected / r * float64(time.Second))).Round(time.Second).String()
			}
			fmt.Fprintf(w, "\r\033[Kmining: %.3g hashes, %s, %v elapsed, expected %s at %d bits",
				h, rate(r), el.Round(time.Second), eta, bits)
		}
	}
}

// rate formats a hash rate.
func rate(r float64) string {
	switch {
	case r >= 1e9:
		return fmt.Sprintf("%.2f GH/s", r/1e9)
	case r >= 1e6:
		return fmt.Sprintf("%.2f MH/s", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.2f kH/s", r/1e3)
	}
	return fmt.Sprintf("%.0f H/s", r)
}
