package node

import (
	"context"
	"fmt"
	"strconv"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// SynthOptions says what Synthesize builds.
type SynthOptions struct {
	// Blocks is how many blocks to add after the store's tip.
	Blocks int
	// TxBytes is roughly how many bytes of transaction content each block
	// carries (one transaction a block); 0 means 440, which makes a wire
	// block of about 605 bytes.
	TxBytes int
	// Author is the transactions' author; "" means "synth". Two chains
	// grown from one store with different authors fork there.
	Author string
	// Batch is how many blocks share one store transaction; 0 means 10000.
	Batch int
	// Progress, when not nil, is called after every batch with the chain
	// length so far.
	Progress func(length int)
}

// Synthesize mines opts.Blocks valid blocks onto the tip of the store in
// dir (created for target if missing), one transaction each, and writes
// them in batches. It builds big chains quickly for the scale benchmark:
// at difficulty 1 a block costs a few microseconds of hashing. The store
// must not be open elsewhere.
func Synthesize(ctx context.Context, dir string, target hasher.Target, opts SynthOptions) (length int, err error) {
	if opts.TxBytes <= 0 {
		opts.TxBytes = 440
	}
	if opts.Author == "" {
		opts.Author = "synth"
	}
	if opts.Batch <= 0 {
		opts.Batch = 10000
	}
	n, err := Open(Config{DataDir: dir, Target: target, Miner: engine.NewMiner(nil, 1), SyncInterval: -1})
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := n.Close(); err == nil {
			err = cerr
		}
	}()
	filler := make([]byte, opts.TxBytes)
	for i := range filler {
		filler[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i%36]
	}
	last := n.tipBlock()
	ts := 1.7e9
	for done := 0; done < opts.Blocks; {
		batch := make([]*block, 0, min(opts.Batch, opts.Blocks-done))
		for len(batch) < cap(batch) {
			if err := ctx.Err(); err != nil {
				return n.Len(), err
			}
			ts += 0.001
			idx := last.Index + 1
			tx := pyjson.Object{
				"author":    opts.Author,
				"content":   "block " + strconv.FormatInt(idx, 10) + " " + string(filler),
				"timestamp": pyjson.Float(ts),
			}
			tpl := &engine.Block{Index: idx, Transactions: []pyjson.Value{tx}, Timestamp: pyjson.Float(ts), PreviousHash: last.Hash}
			mined, _, err := engine.MineBlock(ctx, n.miner, tpl, target)
			if err != nil {
				return n.Len(), err
			}
			nb, err := newBlock(mined)
			if err != nil {
				return n.Len(), err
			}
			batch = append(batch, nb)
			last = mined
		}
		n.chainMu.Lock()
		_, err := n.apply(n.Len(), batch)
		n.chainMu.Unlock()
		if err != nil {
			return n.Len(), fmt.Errorf("node: writing synthetic blocks: %w", err)
		}
		done += len(batch)
		if opts.Progress != nil {
			opts.Progress(n.Len())
		}
	}
	return n.Len(), nil
}
