package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/powchain/powchain/hasher"
)

// HeaderNonces is the size of a Bitcoin header's nonce space: 2^32.
const HeaderNonces = 1 << 32

// headerPiece is how many header nonces a worker hashes between two looks
// at the context and the best solution: 2 compressions each (the first 64
// bytes are in the midstate), so about as long as a JSON-mode piece.
const headerPiece = pieceCompressions / 2

// HeaderResult is a solved Bitcoin header.
type HeaderResult struct {
	Header  hasher.Header // the header with the solving nonce
	Nonce   uint32
	Hash    [32]byte      // its sha256d, as hashed (not reversed)
	Hashes  uint64        // nonces hashed by all workers in this call
	Elapsed time.Duration // wall time of the call
}

// MineHeader searches the nonces of job from start up to 2^32-1 and
// returns the lowest one whose sha256d, read as a little-endian number, is
// at most target. It runs the same worker pool as Mine, with the
// miner's kernel in its header mode, so the answer does not depend on the
// number of workers. It returns ErrExhausted when no nonce in [start,
// 2^32) meets the target, and an error wrapping ErrCanceled when ctx stops
// it first.
func (m *Miner) MineHeader(ctx context.Context, job *hasher.HeaderJob, start uint32, target hasher.HeaderTarget) (HeaderResult, error) {
	return m.MineHeaderProgress(ctx, job, start, target, nil)
}

// MineHeaderProgress is MineHeader that reports its frontier through p
// (nil: none), as MineRangeProgress does.
func (m *Miner) MineHeaderProgress(ctx context.Context, job *hasher.HeaderJob, start uint32, target hasher.HeaderTarget, p *Progress) (HeaderResult, error) {
	hk, err := hasher.HeaderKernel(m.hasher)
	if err != nil {
		return HeaderResult{}, err
	}
	piece := max(uint64(headerPiece), uint64(m.hasher.Lanes()))
	n, res, err := m.run(ctx, m.hasher.Name(), uint64(start), HeaderNonces, p, func() pieceFunc {
		s := hk.NewHeaderSearcher()
		return func(lo, hi uint64) (uint64, uint64, bool, uint64) {
			end := min(hi, lo+piece)
			n, found, h := s.SearchHeader(job, lo, end, target)
			return end, n, found, h
		}
	})
	out := HeaderResult{Hashes: res.Hashes, Elapsed: res.Elapsed}
	if err != nil {
		return out, err
	}
	out.Nonce = uint32(n)
	out.Header = job.WithNonce(out.Nonce)
	out.Hash = hasher.Sha256d(&out.Header)
	if !target.Meets(&out.Hash) {
		return out, fmt.Errorf("engine: kernel %s reported nonce %d, whose hash does not meet the target", m.hasher.Name(), n)
	}
	return out, nil
}
