package node

import (
	"errors"
	"fmt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// block is a block of our chain with its wire form (sorted keys, with
// hash), which is what the store holds and /chain serves.
type block struct {
	*engine.Block
	wire []byte
}

func newBlock(b *engine.Block) (*block, error) {
	wire, err := b.MarshalWire()
	if err != nil {
		return nil, fmt.Errorf("node: encoding block %d: %w", b.Index, err)
	}
	return &block{Block: b, wire: wire}, nil
}

// hashBytes returns the block's hash as 32 bytes (zero when it is not
// hex, which a validated block's never is).
func (b *block) hashBytes() [32]byte {
	h, _ := hashBytes(b.Hash)
	return h
}

// indexChunk is how many hashes one chunk of the index holds.
const indexChunk = 1 << 16

// hashIndex is the chain in memory: the hash of the block at each height,
// 32 bytes each, in chunks, so that appending never copies the whole
// index. A hashIndex is a value: a reader that copied one under Node.mu
// reads it without the lock, because nothing below its length ever changes
// (appended writes only past the length; truncated copies the chunk it
// cuts).
type hashIndex struct {
	chunks [][][32]byte
	n      int
}

// len returns the number of blocks.
func (x hashIndex) len() int { return x.n }

// at returns the hash of the block at height h < len.
func (x hashIndex) at(h int) [32]byte { return x.chunks[h/indexChunk][h%indexChunk] }

// appended returns the index with hashes added at its end. It writes past
// x's length only, so x and copies of it stay valid; it must not be called
// twice on the same index (the caller holds Node.chainMu).
func (x hashIndex) appended(hashes ...[32]byte) hashIndex {
	for _, h := range hashes {
		c := x.n / indexChunk
		if c == len(x.chunks) {
			x.chunks = append(x.chunks, make([][32]byte, indexChunk))
		}
		x.chunks[c][x.n%indexChunk] = h
		x.n++
	}
	return x
}

// truncated returns the first n hashes of the index, in chunks of its own
// where it cuts one, so that appending to it never writes where readers
// of x read.
func (x hashIndex) truncated(n int) hashIndex {
	full := n / indexChunk
	out := hashIndex{chunks: make([][][32]byte, full, full+1), n: n}
	copy(out.chunks, x.chunks[:full])
	if n%indexChunk != 0 {
		c := make([][32]byte, indexChunk)
		copy(c, x.chunks[full][:n%indexChunk])
		out.chunks = append(out.chunks, c)
	}
	return out
}

// all returns the hashes in one slice.
func (x hashIndex) all() [][32]byte {
	out := make([][32]byte, 0, x.n)
	for h := 0; h < x.n; h += indexChunk {
		out = append(out, x.chunks[h/indexChunk][:min(indexChunk, x.n-h)]...)
	}
	return out
}

// canonTxs returns the canonical JSON of each transaction of the blocks.
func canonTxs(blocks []*block) []string {
	var out []string
	for _, b := range blocks {
		for _, tx := range b.Transactions {
			c, err := pyjson.Encode(tx)
			if err != nil {
				continue // a stored or validated block always encodes
			}
			out = append(out, string(c))
		}
	}
	return out
}

// applyResult says what a chain change did.
type applyResult struct {
	removed  int // blocks that left the chain
	orphaned int // their transactions that returned to the pool
	cleared  int // pending transactions found in the new blocks
}

// apply replaces the blocks from height fork on with added (at least
// one), durably and in memory: the new blocks' transactions leave the
// pool, the transactions of the blocks that leave the chain and are not in
// the new ones return to it, all in one store transaction, so a crash
// leaves the old chain or the new one. An append (fork is the length)
// costs the same at any length: it writes the new blocks, their hashes,
// the length and the checksum state. The mining in progress is cancelled.
// The caller holds chainMu and has validated added against the chain.
func (n *Node) apply(fork int, added []*block) (applyResult, error) {
	var res applyResult
	if len(added) == 0 {
		return res, errors.New("node: a chain change without blocks")
	}
	in := canonTxs(added)
	inSet := make(map[string]struct{}, len(in))
	for _, c := range in {
		inSet[c] = struct{}{}
	}
	n.mu.RLock()
	idx, sum := n.index, n.sum
	n.mu.RUnlock()
	oldLen := idx.len()

	var removed []*block
	if fork < oldLen {
		var err error
		if removed, err = n.store.blocks(fork, oldLen); err != nil {
			return res, err
		}
	}
	hashes := make([][32]byte, len(added))
	for i, b := range added {
		hashes[i] = b.hashBytes()
	}
	var newIdx hashIndex
	var err error
	if fork == oldLen {
		newIdx = idx.appended(hashes...)
		sum, err = extendSum(sum, hashes)
	} else {
		newIdx = idx.truncated(fork).appended(hashes...)
		sum, err = extendSum(nil, newIdx.all())
	}
	if err != nil {
		return res, err
	}

	n.mu.RLock()
	var drop []uint64
	for c := range inSet {
		if e, ok := n.pool.byCanon[c]; ok {
			drop = append(drop, e.seqs...)
			res.cleared++
		}
	}
	var restore [][]byte
	seen := map[string]struct{}{}
	for _, c := range canonTxs(removed) {
		if _, ok := inSet[c]; ok {
			continue
		}
		if _, ok := seen[c]; ok || n.pool.has(c) {
			continue
		}
		seen[c] = struct{}{}
		restore = append(restore, []byte(c))
	}
	n.mu.RUnlock()

	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	seqs, err := n.store.commit(&change{oldLen: oldLen, fork: fork, added: added, length: newIdx.len(), sum: sum, drop: drop, restore: restore})
	if err != nil {
		return res, err
	}
	res.removed = len(removed)
	res.orphaned = len(restore)

	n.mu.Lock()
	n.index, n.sum, n.tip = newIdx, sum, added[len(added)-1]
	for c := range inSet {
		n.pool.remove(c)
	}
	for i, c := range restore {
		n.pool.add(string(c), seqs[i])
	}
	n.tipGen++
	if n.cancelMining != nil {
		n.cancelMining()
		n.cancelMining = nil
	}
	n.mu.Unlock()
	n.events.chainChanged(oldLen, fork, added)
	if len(restore) > 0 {
		n.wake()
	}
	return res, nil
}

// ErrKnownBlock is returned by AddBlock when the block is already on the
// chain.
var ErrKnownBlock = errors.New("node: block already in the chain")

// AddBlock appends a block a peer announced, after checking that it
// follows our last block (engine.ValidateNext): on a broken rule the error
// is an *engine.RuleError and the chain is unchanged. Its transactions
// leave the pending pool, and mining in progress restarts on the new tip.
// A block that would extend a longer chain than ours (its index is beyond
// our tip, or it is the next index on another branch) makes Run's syncer
// ask the peers for their chains.
func (n *Node) AddBlock(b *engine.Block) error {
	if err := checkBlockDepth(b); err != nil {
		return err
	}
	nb, err := newBlock(b)
	if err != nil {
		return &InputError{Field: "block", Msg: err.Error()}
	}
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	idx, last := n.index, n.tip
	n.mu.RUnlock()
	pos := idx.len()
	if b.Index >= 0 && b.Index < int64(pos) {
		if h, err := hashBytes(b.Hash); err == nil && idx.at(int(b.Index)) == h && b.ComputeHash() == b.Hash {
			return ErrKnownBlock
		}
	}
	if err := engine.ValidateNext(last.Block, pos, b, n.target); err != nil {
		var re *engine.RuleError
		if errors.As(err, &re) {
			n.metrics.rejected.WithLabelValues(string(re.Rule)).Inc()
			if b.Index > last.Index+1 || (b.Index == last.Index+1 && re.Rule == engine.RulePreviousHash) {
				n.kickSync()
			}
		}
		return err
	}
	res, err := n.apply(pos, []*block{nb})
	if err != nil {
		return err
	}
	n.metrics.accepted.Inc()
	n.log.Info("block accepted", "height", b.Index, "hash", b.Hash, "nonce", b.Nonce,
		"hashes", b.Nonce+1, "txs", len(b.Transactions), "cleared", res.cleared)
	return nil
}
