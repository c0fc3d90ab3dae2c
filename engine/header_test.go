package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/powchain/powchain/hasher"
)

// firstHeaderSolution is the sequential loop: the lowest nonce from start
// whose sha256d meets target, with the reference code.
func firstHeaderSolution(h hasher.Header, start uint32, target hasher.HeaderTarget) (uint32, bool) {
	for n := uint64(start); n < HeaderNonces; n++ {
		h.SetNonce(uint32(n))
		d := hasher.Sha256d(&h)
		if target.Meets(&d) {
			return uint32(n), true
		}
	}
	return 0, false
}

// TestMineHeaderLowestNonce mines random headers with every header kernel,
// worker counts of 1 to 4 and odd chunk sizes, and compares with the
// sequential loop: the answer must not depend on either.
func TestMineHeaderLowestNonce(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	iters := 12
	if testing.Short() {
		iters = 4
	}
	for i := 0; i < iters; i++ {
		var h hasher.Header
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		// A target with 9 to 12 leading zero bits: about 500 to 4000
		// nonces to the answer.
		target, err := hasher.ParseHeaderTarget("00" + string("7310"[rng.IntN(4)]) + "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")
		if err != nil {
			t.Fatal(err)
		}
		start := rng.Uint32()
		want, ok := firstHeaderSolution(h, start, target)
		if !ok {
			continue
		}
		job := hasher.NewHeaderJob(&h)
		for _, k := range hasher.HeaderKernels() {
			m := NewMiner(k, 1+rng.IntN(4))
			m.SetChunk(uint64(1 + rng.IntN(3000)))
			res, err := m.MineHeader(context.Background(), job, start, target)
			if err != nil {
				t.Fatalf("%s: %v", k.Name(), err)
			}
			if res.Nonce != want || res.Header.Nonce() != want || res.Hash != hasher.Sha256d(&res.Header) {
				t.Fatalf("%s, %d workers, chunk %d, start %d: nonce %d, sequential loop %d", k.Name(), m.Workers(), m.chunk, start, res.Nonce, want)
			}
		}
	}
}

// TestMineHeaderExhausted asks for the last nonces of the space against a
// target that none of them meets.
func TestMineHeaderExhausted(t *testing.T) {
	var h hasher.Header
	target, _ := hasher.ParseHeaderTarget("1") // only a hash of 0 or 1
	for _, k := range hasher.HeaderKernels() {
		m := NewMiner(k, 2)
		res, err := m.MineHeader(context.Background(), hasher.NewHeaderJob(&h), HeaderNonces-5000, target)
		if !errors.Is(err, ErrExhausted) {
			t.Fatalf("%s: err %v, want ErrExhausted", k.Name(), err)
		}
		if res.Hashes != 5000 {
			t.Fatalf("%s: %d hashes, want 5000", k.Name(), res.Hashes)
		}
	}
}

func TestMineHeaderCancel(t *testing.T) {
	var h hasher.Header
	target, _ := hasher.ParseHeaderTarget("1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewMiner(nil, 2).MineHeader(ctx, hasher.NewHeaderJob(&h), 0, target)
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("err %v, want ErrCanceled", err)
	}
}
