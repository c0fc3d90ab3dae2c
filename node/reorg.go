package node

import (
	"errors"
	"fmt"

	"github.com/powchain/powchain/engine"
)

// Adopt replaces our chain with blocks if they form a valid chain
// (engine.ValidateChain, the first error is returned) longer than ours:
// the longest valid chain wins. Transactions of our blocks that leave the
// chain return to the pending pool and those in the new blocks leave it.
// It reports whether the chain was replaced; origin names the source in
// the log.
func (n *Node) Adopt(blocks []*engine.Block, origin string) (bool, error) {
	for i, b := range blocks {
		if err := checkBlockDepth(b); err != nil {
			return false, fmt.Errorf("node: block %d: %w", i, err)
		}
	}
	if err := engine.ValidateChain(blocks, n.target); err != nil {
		var re *engine.RuleError
		if errors.As(err, &re) {
			n.metrics.rejected.WithLabelValues(string(re.Rule)).Inc()
		}
		return false, err
	}
	return n.adoptValid(blocks, origin)
}

// adoptValid is Adopt for a chain already validated.
func (n *Node) adoptValid(blocks []*engine.Block, origin string) (bool, error) {
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	ours := n.index
	n.mu.RUnlock()
	if len(blocks) <= ours.len() {
		return false, nil
	}
	fork := 0
	for fork < ours.len() {
		if h, err := hashBytes(blocks[fork].Hash); err != nil || h != ours.at(fork) {
			break
		}
		fork++
	}
	added := make([]*block, 0, len(blocks)-fork)
	for _, b := range blocks[fork:] {
		nb, err := newBlock(b)
		if err != nil {
			return false, err
		}
		added = append(added, nb)
	}
	res, err := n.apply(fork, added)
	if err != nil {
		return false, err
	}
	n.metrics.replacements.Inc()
	last := blocks[len(blocks)-1]
	n.log.Info("chain replaced", "from", origin, "height", last.Index, "hash", last.Hash,
		"fork", fork, "removed", res.removed, "added", len(added), "orphaned", res.orphaned, "cleared", res.cleared)
	return true, nil
}
