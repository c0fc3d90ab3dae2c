package engine

import (
	"context"

	"github.com/powchain/powchain/hasher"
)

// Solver finds the lowest nonce of a template whose hash meets a target,
// the one the seed's sequential loop finds. *Miner is one; a mining
// fleet's coordinator (package fleet) is another.
type Solver interface {
	Mine(ctx context.Context, t *hasher.Template, target hasher.Target) (Result, error)
}

// MineBlock mines b with m: it serializes b once into a template, finds the
// lowest nonce whose hash meets target, and returns a copy of b with Nonce
// and Hash set. b itself is not modified. A target of 0 bits is refused
// with ErrZeroTarget.
func MineBlock(ctx context.Context, m Solver, b *Block, target hasher.Target) (*Block, Result, error) {
	if target.Bits() <= 0 {
		return nil, Result{}, ErrZeroTarget
	}
	t, err := b.Template()
	if err != nil {
		return nil, Result{}, err
	}
	res, err := m.Mine(ctx, t, target)
	if err != nil {
		return nil, res, err
	}
	mined := *b
	mined.Nonce = res.Nonce
	mined.Hash = res.HashHex()
	return &mined, res, nil
}
