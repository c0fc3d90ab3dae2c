package engine

import (
	"fmt"

	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// Chain is a validated chain of blocks and the pool of unconfirmed
// transactions, the seed's Blockchain class. It is not safe for concurrent
// use; the node guards it with a lock.
type Chain struct {
	target  hasher.Target
	blocks  []*Block
	pending []pyjson.Value
}

// NewChain returns a chain that holds only the genesis block.
func NewChain(target hasher.Target) *Chain {
	return &Chain{target: target, blocks: []*Block{Genesis()}}
}

// ChainFromBlocks validates blocks as a whole chain and returns it.
func ChainFromBlocks(blocks []*Block, target hasher.Target) (*Chain, error) {
	if err := ValidateChain(blocks, target); err != nil {
		return nil, err
	}
	return &Chain{target: target, blocks: append([]*Block(nil), blocks...)}, nil
}

// Target returns the chain's proof-of-work target.
func (c *Chain) Target() hasher.Target { return c.target }

// Len returns the number of blocks, genesis included.
func (c *Chain) Len() int { return len(c.blocks) }

// Blocks returns the blocks, genesis first. The slice is a copy; the blocks
// are shared and must not be modified.
func (c *Chain) Blocks() []*Block { return append([]*Block(nil), c.blocks...) }

// Last returns the last block.
func (c *Chain) Last() *Block { return c.blocks[len(c.blocks)-1] }

// AddBlock appends b after checking it may follow the last block (see
// ValidateNext). On error the chain is unchanged.
func (c *Chain) AddBlock(b *Block) error {
	if err := ValidateNext(c.Last(), len(c.blocks), b, c.target); err != nil {
		return err
	}
	c.blocks = append(c.blocks, b)
	return nil
}

// AddTransaction adds a transaction to the pending pool.
func (c *Chain) AddTransaction(tx pyjson.Value) { c.pending = append(c.pending, tx) }

// Pending returns a copy of the pending pool.
func (c *Chain) Pending() []pyjson.Value { return append([]pyjson.Value(nil), c.pending...) }

// SetPending replaces the pending pool.
func (c *Chain) SetPending(txs []pyjson.Value) { c.pending = append([]pyjson.Value(nil), txs...) }

// NextBlock returns the block that mining the pending pool would seal, with
// nonce 0 and no hash: index one more than the last block, previous_hash
// the last block's hash, the given timestamp (a pyjson.Int or Float).
func (c *Chain) NextBlock(timestamp pyjson.Value) *Block {
	last := c.Last()
	return &Block{
		Index:        last.Index + 1,
		Transactions: c.Pending(),
		Timestamp:    timestamp,
		PreviousHash: last.Hash,
	}
}

// MineSequential is the seed's mine(): when transactions are pending, it
// seals them into the next block with the seed's proof-of-work loop,
// appends the block and empties the pool. It returns nil when nothing is
// pending.
func (c *Chain) MineSequential(timestamp pyjson.Value) (*Block, error) {
	if len(c.pending) == 0 {
		return nil, nil
	}
	b := c.NextBlock(timestamp)
	if err := ProofOfWork(b, c.target); err != nil {
		return nil, err
	}
	if err := c.AddBlock(b); err != nil {
		return nil, fmt.Errorf("engine: mined block rejected: %w", err)
	}
	c.pending = nil
	return b, nil
}

// ProofOfWork is the seed's proof_of_work loop, kept as the reference the
// parallel engine is tested against: nonce from 0 upward, the whole block
// serialized and hashed per attempt, the first hash that meets the target.
// It sets b.Nonce and b.Hash.
func ProofOfWork(b *Block, target hasher.Target) error {
	if _, err := b.Canonical(); err != nil {
		return err
	}
	for b.Nonce = 0; ; b.Nonce++ {
		h := b.ComputeHash()
		var d [32]byte
		for i := range d {
			d[i] = unhex(h[2*i])<<4 | unhex(h[2*i+1])
		}
		if target.MeetsDigest(&d) {
			b.Hash = h
			return nil
		}
		if b.Nonce == ^uint64(0) {
			return ErrExhausted
		}
	}
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}
