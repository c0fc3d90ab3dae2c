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
	n.mu.RLock()
	ours := n.index
	n.mu.RUnlock()
	if len(blocks) <= ours.len() {
		n.chainMu.Unlock()
		return false, nil
	}
	fork := 0
	for fork < ours.len() {
		if h, err := hashBytes(blocks[fork].Hash); err != nil || h != ours.at(fork) {
			break
		}
		fork++
	}
	if fork < ours.len() {
		// Blocks of ours leave the chain: a switch through the staging
		// bucket, which reads them from the store a batch at a time.
		n.chainMu.Unlock()
		return n.adoptStaged(ours, fork, blocks, origin)
	}
	defer n.chainMu.Unlock()
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

// adoptStaged replaces our blocks from height fork on with blocks[fork:]
// (a validated chain that forks from ours there): they are staged in the
// store and switched to (switchFork).
func (n *Node) adoptStaged(ours hashIndex, fork int, blocks []*engine.Block, origin string) (bool, error) {
	if fork < 1 {
		return false, errors.New("node: the chain's genesis block differs from ours")
	}
	st, err := n.newForkStage(ours, fork)
	if err != nil {
		return false, err
	}
	for _, b := range blocks[fork:] {
		nb, err := newBlock(b)
		if err == nil {
			err = st.add(nb)
		}
		if err != nil {
			st.drop()
			return false, err
		}
	}
	return n.switchFork(st, origin)
}
