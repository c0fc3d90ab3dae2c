package node

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// Mine seals pending transactions (the oldest, up to Limits.BlockTxBytes
// and Limits.BlockTxs) into the next block with the node's miner and
// appends it, as the reference node's /mine does. It returns nil when
// nothing is pending. When the tip changes while it mines (a peer's block
// or chain), the attempt is cancelled and it starts over on the new tip.
// The block is not announced; see Run and /mine.
func (n *Node) Mine(ctx context.Context) (*engine.Block, error) {
	b, err := n.mineOne(ctx)
	if b == nil {
		return nil, err
	}
	return b.Block, err
}

func (n *Node) mineOne(ctx context.Context) (*block, error) {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	for {
		n.mu.Lock()
		entries := n.pool.take(n.cfg.Limits.BlockTxBytes, n.cfg.Limits.BlockTxs)
		if len(entries) == 0 {
			n.mu.Unlock()
			return nil, nil
		}
		last := n.tip
		gen := n.tipGen
		n.mu.Unlock()

		txs := make([]pyjson.Value, 0, len(entries))
		var bad []*poolEntry
		for _, e := range entries {
			tx, err := pyjson.Decode([]byte(e.canon))
			if err == nil {
				err = checkMinable(tx)
			}
			if err != nil {
				n.log.Warn("dropping a pending transaction that cannot be mined", "seq", e.seqs[0], "bytes", len(e.canon), "err", err)
				bad = append(bad, e)
				continue
			}
			txs = append(txs, tx)
		}
		if len(bad) > 0 {
			if err := n.dropPending(bad); err != nil {
				return nil, err
			}
			continue
		}

		n.mu.Lock()
		if n.tipGen != gen {
			n.mu.Unlock()
			continue
		}
		mctx, cancel := context.WithCancel(ctx)
		n.cancelMining = cancel
		n.mu.Unlock()

		tpl := &engine.Block{Index: last.Index + 1, Transactions: txs, Timestamp: now(), PreviousHash: last.Hash}
		mined, res, err := n.mineFunc(mctx, tpl)
		n.mu.Lock()
		n.cancelMining = nil
		n.mu.Unlock()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("node: mining stopped: %w", context.Cause(ctx))
			}
			if errors.Is(err, engine.ErrCanceled) {
				n.log.Debug("mining restarted on a new tip", "height", tpl.Index)
				continue
			}
			return nil, err
		}
		nb, err := newBlock(mined)
		if err != nil {
			return nil, err
		}
		n.chainMu.Lock()
		n.mu.RLock()
		stale := n.tipGen != gen
		pos := n.index.len()
		n.mu.RUnlock()
		if stale {
			n.chainMu.Unlock()
			continue
		}
		_, err = n.apply(pos, []*block{nb})
		n.chainMu.Unlock()
		if err != nil {
			return nil, err
		}
		n.metrics.mined.Inc()
		rate := 0.0
		if s := res.Elapsed.Seconds(); s > 0 {
			rate = float64(res.Hashes) / s
		}
		n.log.Info("block mined", "height", mined.Index, "hash", mined.Hash, "nonce", mined.Nonce,
			"hashes", res.Hashes, "hash_rate", math.Round(rate), "elapsed", res.Elapsed, "txs", len(txs))
		return nb, nil
	}
}

// dropPending removes pending transactions from the store and the pool.
func (n *Node) dropPending(entries []*poolEntry) error {
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	var drop []uint64
	n.mu.RLock()
	for _, e := range entries {
		drop = append(drop, e.seqs...)
	}
	n.mu.RUnlock()
	if _, err := n.store.commit(&change{drop: drop}); err != nil {
		return err
	}
	n.mu.Lock()
	for _, e := range entries {
		n.pool.remove(e.canon)
	}
	n.mu.Unlock()
	return nil
}
