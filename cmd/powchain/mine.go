package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/fleet"
	"github.com/powchain/powchain/hasher"
)

func init() {
	register(&command{
		name:    "mine",
		args:    "[FILE]",
		summary: "mine a block template (index, transactions, timestamp, previous_hash) and print the mined block; --header mines a Bitcoin header",
		examples: []string{
			"powchain mine --difficulty 5 examples/block.json   # the lowest nonce with 5 leading hex zeros",
			"powchain mine --header header.hex --start 2083236000   # a Bitcoin header (160 hex characters): sha256d, target from its nBits",
			"powchain mine --bits 38 --checkpoint block.ckpt block.json   # a long job: stop it any way, run the same command again, same block",
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
			fs.StringVar(&o.checkpoint, "checkpoint", "", "save how far mining got in `FILE` (the frontier: every nonce below it was tried; with --nats also the best solution) every --checkpoint-every and on Ctrl-C or SIGTERM, and resume from it when the same command runs again; a checkpoint of another block, header or target is refused; FILE is removed once the block is printed")
			fs.DurationVar(&o.checkpointEvery, "checkpoint-every", 5*time.Second, "with --checkpoint: how often to save it, a `DURATION`")
			return func(ctx context.Context, e env, args []string) error {
				set := map[string]bool{}
				fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
				if o.header.header != "" {
					return runMineHeader(ctx, e, o, args, set)
				}
				for _, name := range []string{"target", "roll-time"} {
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
	// checkpoint is the --checkpoint file ("": none), saved every
	// checkpointEvery.
	checkpoint      string
	checkpointEvery time.Duration
}

// checkOptions checks the flags both modes share.
func (o *mineOptions) checkOptions() error {
	if o.checkpoint != "" && o.checkpointEvery <= 0 {
		return usagef("--checkpoint-every must be positive, got %v", o.checkpointEvery)
	}
	return nil
}

// runMine mines one block: the lowest nonce from --start (0), the one the
// seed's loop finds. The block goes to stdout as one line of JSON with
// keys sorted; status goes to stderr. With --nats or --nats-listen a fleet
// of workers mines too, and the block is the same. With --checkpoint the
// frontier (and a fleet's best solution) is saved as it moves, and a
// rerun resumes from it.
func runMine(ctx context.Context, e env, o *mineOptions, args []string) (err error) {
	if err := o.checkOptions(); err != nil {
		return err
	}
	if o.header.start == math.MaxUint64 {
		return usagef("--start: %d is never tried (the last nonce is %d)", o.header.start, uint64(math.MaxUint64-1))
	}
	target, err := o.difficulty.target()
	if err != nil {
		return err
	}
	if target.Bits() <= 0 {
		return badInput(engine.ErrZeroTarget)
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
	tpl, err := b.Template()
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", name, err))
	}
	start := o.header.start
	from := resumePoint{Frontier: start, Best: math.MaxUint64}
	var cp *checkpointer
	if o.checkpoint != "" {
		if cp, from, err = openCheckpoint(o.checkpoint, blockJob(tpl, target), start, false); err != nil {
			return err
		}
		if from.Frontier != start || from.Best != math.MaxUint64 {
			fmt.Fprintf(e.stderr, "resuming from %s: every nonce from %d below %d was tried%s\n",
				o.checkpoint, start, from.Frontier, bestNote(from.Best))
		}
		if err := cp.save(from); err != nil {
			return err
		}
	}
	stop, err := o.profile.start()
	if err != nil {
		return err
	}
	defer stopProfiles(stop, &err)

	hashes := func() uint64 { return m.Hashes() }
	var coord *fleet.Coordinator
	if o.nats.enabled() {
		var closeFleet func()
		coord, closeFleet, err = o.nats.coordinator(ctx, m, plainLogger(e.stderr))
		if err != nil {
			return err
		}
		defer closeFleet()
		hashes = func() uint64 { return coord.Stats().Hashes }
	}

	// at is how far the job has come, for the checkpoint and an
	// interruption: the miner's frontier, or the coordinator's frontier
	// and best solution.
	var p engine.Progress
	at := func() resumePoint {
		if coord != nil {
			if fp, ok := coord.Progress(); ok {
				return resumePoint{Frontier: fp.Frontier, Best: fp.Best}
			}
			return from
		}
		if f, ok := p.Frontier(); ok {
			return resumePoint{Frontier: f, Best: from.Best}
		}
		return from
	}

	done := make(chan struct{})
	if live {
		go statusLine(e.stderr, hashes, func() uint64 { return at().Frontier }, target.Bits(), done)
	}
	saved := make(chan struct{})
	if cp != nil {
		go keepCheckpoint(cp, at, o.checkpointEvery, e.stderr, done, saved)
	} else {
		close(saved)
	}
	var res engine.Result
	began := time.Now()
	if coord != nil {
		res, err = coord.MineFrom(ctx, tpl, target, fleet.Progress{Frontier: from.Frontier, Best: from.Best})
	} else {
		// Below a best solution found by a fleet before, or up to the end.
		res, err = m.MineRangeProgress(ctx, tpl, target, from.Frontier, from.Best, &p)
		if errors.Is(err, engine.ErrExhausted) && from.Best != math.MaxUint64 {
			res.Nonce, err = from.Best, nil
			res.Hash = blockHash(tpl, from.Best)
		}
	}
	close(done)
	<-saved
	if coord != nil {
		printWorkerTotals(e.stderr, coord)
	}
	if err != nil {
		end := at()
		if cp != nil {
			if serr := cp.save(end); serr != nil {
				fmt.Fprintf(e.stderr, "%v\n", serr)
				cp = nil
			}
		}
		if errors.Is(err, engine.ErrCanceled) {
			return interrupted(err, start, end.Frontier, "", cp)
		}
		return err
	}
	mined := *b
	mined.Nonce = res.Nonce
	mined.Hash = res.HashHex()
	out, err := mined.MarshalWire()
	if err != nil {
		return err
	}
	who := "a fleet"
	if m != nil && coord == nil {
		who = fmt.Sprintf("%s, %d workers", m.Hasher().Name(), m.Workers())
	}
	if wait := time.Since(began) - res.Elapsed; coord != nil && wait >= time.Second {
		// The rate is the fleet's while it mined, not over the wait.
		who += fmt.Sprintf(", after %v waiting for workers", wait.Round(time.Second))
	}
	fmt.Fprintf(e.stderr, "mined block %d at %v: nonce %d after %d hashes in %v (%s, %s)\n",
		mined.Index, target, mined.Nonce, res.Hashes, res.Elapsed.Round(time.Microsecond),
		rate(float64(res.Hashes)/res.Elapsed.Seconds()), who)
	if _, err = fmt.Fprintf(e.stdout, "%s\n", out); err != nil {
		return err
	}
	if cp != nil {
		return cp.remove()
	}
	return nil
}

// bestNote describes a best solution carried by a checkpoint.
func bestNote(best uint64) string {
	if best == math.MaxUint64 {
		return ""
	}
	return fmt.Sprintf(", and nonce %d is a solution", best)
}

// blockHash is the hash of nonce n of t.
func blockHash(t *hasher.Template, n uint64) [32]byte {
	msg := strconv.AppendUint(append([]byte(nil), t.Prefix()...), n, 10)
	return sha256.Sum256(append(msg, t.Suffix()...))
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
// closed: hashes, rate, elapsed time, the expected time to a solution at
// this difficulty, and the frontier (every nonce below it tried; the hash
// count also counts nonces hashed above it). It must be run as a
// goroutine.
func statusLine(w io.Writer, hashes, frontier func() uint64, bits int, done <-chan struct{}) {
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
			fmt.Fprintf(w, "\r\033[Kmining: %.3g hashes, %s, %v elapsed, expected %s at %d bits, all below %d tried",
				h, rate(r), el.Round(time.Second), eta, bits, frontier())
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
