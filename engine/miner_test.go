package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

func randomBlock(rng *rand.Rand) *Block {
	txs := make([]pyjson.Value, rng.IntN(4))
	for i := range txs {
		content := make([]byte, rng.IntN(120))
		for j := range content {
			content[j] = byte('a' + rng.IntN(26))
		}
		txs[i] = pyjson.Object{
			"author":    fmt.Sprintf("author%d", rng.IntN(1000)),
			"content":   string(content),
			"timestamp": pyjson.Float(1.7e9 + rng.Float64()*1e6),
		}
	}
	return &Block{
		Index:        rng.Int64N(1 << 40),
		Transactions: txs,
		Timestamp:    pyjson.Float(1.7e9 + rng.Float64()*1e6),
		PreviousHash: fmt.Sprintf("%064x", rng.Uint64()),
	}
}

// TestMinerAgreesWithSeedLoop mines random blocks with odd chunk sizes, so
// that chunks, pieces and digit boundaries fall everywhere, and compares
// with the sequential seed loop.
func TestMinerAgreesWithSeedLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 40; i++ {
		b := randomBlock(rng)
		target, _ := hasher.TargetBits(4 + rng.IntN(9))
		want := *b
		if err := ProofOfWork(&want, target); err != nil {
			t.Fatal(err)
		}
		for _, h := range hasher.Available() {
			m := NewMiner(h, 1+rng.IntN(4))
			m.SetChunk(uint64(1 + rng.IntN(3000)))
			got, _, err := MineBlock(context.Background(), m, b, target)
			if err != nil {
				t.Fatal(err)
			}
			if got.Nonce != want.Nonce || got.Hash != want.Hash {
				t.Fatalf("%s, %d workers, chunk %d: nonce %d, seed loop %d", h.Name(), m.Workers(), m.chunk, got.Nonce, want.Nonce)
			}
		}
	}
}

func TestMineCancel(t *testing.T) {
	small := randomBlock(rand.New(rand.NewPCG(1, 1)))
	// A block of 1500 transactions (about 1700 compressions a nonce): the
	// time between two looks at the context must not grow with the block.
	big := randomBlock(rand.New(rand.NewPCG(1, 1)))
	for i := 0; i < 1500; i++ {
		big.Transactions = append(big.Transactions, pyjson.Object{
			"author": "bob", "content": fmt.Sprintf("transaction %d", i), "timestamp": pyjson.Float(1.7e9 + float64(i)),
		})
	}
	for _, b := range []*Block{small, big} {
		tpl, err := b.Template()
		if err != nil {
			t.Fatal(err)
		}
		blocks := tpl.Layout(1).Blocks
		for _, h := range hasher.Available() {
			t.Run(fmt.Sprintf("%s/compressions=%d", h.Name(), blocks), func(t *testing.T) {
				testMineCancel(t, h, tpl)
			})
		}
	}
}

func testMineCancel(t *testing.T, h hasher.Hasher, tpl *hasher.Template) {
	target, _ := hasher.TargetBits(200) // never found
	before := runtime.NumGoroutine()
	const workers = 4
	m := NewMiner(h, workers)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() {
		_, err := m.Mine(ctx, tpl, target)
		ch <- err
	}()
	// Let it run until it has hashed something.
	for m.Hashes() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	hashesAtCancel := m.Hashes()
	var err error
	select {
	case err = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Mine did not return 5 s after cancel")
	}
	if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want ErrCanceled wrapping context.Canceled", err)
	}
	// How promptly Mine stops, counted in work rather than in time (a
	// loaded machine can stall a worker for any time): once the context
	// is done, a worker finishes at most the piece it is in, about
	// pieceCompressions compressions however big the block, so it hashes
	// at most that many nonces more (the pieces are shortest in
	// compressions at the shortest nonces, and never under the kernel's
	// lanes; Hashes counts a piece when it ends). Looking at the context
	// once a chunk instead would let each worker hash up to a chunk more.
	lanes := uint64(h.Lanes())
	piece := max(uint64(pieceCompressions/tpl.Layout(1).Blocks), lanes)
	if after := m.Hashes() - hashesAtCancel; after > workers*(piece+lanes) {
		t.Errorf("%d nonces hashed after cancel by %d workers, want at most a piece (%d nonces) each", after, workers, piece)
	}
	if hashesAtCancel == 0 {
		t.Error("no hashes counted while mining")
	}
	// Every worker has returned: Mine waits for them, so the
	// goroutine count is back where it started (once the goroutine
	// above, which has sent Mine's error, has ended too).
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Mine returned, %d before", n, before)
	}
}

// TestMineAllocationsDoNotGrowWithWork checks that the hot loop allocates
// nothing, exactly. It runs the worker loop of Mine in this goroutine with
// one searcher, over thousands of small chunks and every nonce length up to
// the solution's. AllocsPerRun's warm-up run sizes the searcher for each of
// those lengths, so the measured runs must allocate 0 times.
//
// Measuring whole Mine calls instead flaked (about 1 run in 20): which
// worker goroutine first meets each nonce length, and so grows its
// searcher, and whether a finished goroutine's descriptor is reused, depend
// on scheduling. Neither is work done per nonce; TestMineAllocationsBounded
// covers Mine with a bound that such jitter cannot cross.
func TestMineAllocationsDoNotGrowWithWork(t *testing.T) {
	b := randomBlock(rand.New(rand.NewPCG(2, 2)))
	tpl, _ := b.Template()
	target, _ := hasher.TargetBits(16)
	const chunk = 16
	chunks := (math.MaxUint64-1)/uint64(chunk) + 1
	for _, h := range hasher.Available() {
		m := NewMiner(h, 1)
		piece := m.blockPiece(tpl, target)
		s := newSearch(0, math.MaxUint64, chunk, 1)
		if s.chunks != chunks {
			t.Fatalf("%d chunks, want %d", s.chunks, chunks)
		}
		next, best, hashes := &s.next, &s.best, &s.hashes
		allocs := testing.AllocsPerRun(3, func() {
			next.Store(0)
			best.Store(math.MaxUint64)
			hashes.Store(0)
			if err := m.work(context.Background(), piece, s, &s.slots[0].pos); err != nil {
				t.Fatal(err)
			}
		})
		if best.Load() == math.MaxUint64 {
			t.Fatalf("%s: no solution found", h.Name())
		}
		if claimed := next.Load(); claimed < 100 {
			t.Fatalf("%s: only %d chunks claimed: too little work to show an allocation per chunk", h.Name(), claimed)
		}
		if allocs != 0 {
			t.Errorf("%s: %v allocations for %d hashes in %d chunks: the hot loop allocates", h.Name(), allocs, hashes.Load(), next.Load())
		}
	}
}

// TestMineAllocationsBounded checks whole Mine calls: a search that claims
// hundreds of chunks allocates no more than one that claims a handful plus
// what each worker's searcher may allocate once per nonce length (at most
// 4 slices each). The bound is structural, so scheduling cannot cross it,
// and far below one allocation per chunk.
func TestMineAllocationsBounded(t *testing.T) {
	b := randomBlock(rand.New(rand.NewPCG(2, 2)))
	tpl, _ := b.Template()
	const workers, chunk = 2, 16
	for _, h := range hasher.Available() {
		m := NewMiner(h, workers)
		m.SetChunk(chunk)
		allocs := func(bits int) (float64, Result) {
			target, _ := hasher.TargetBits(bits)
			var res Result
			a := testing.AllocsPerRun(2, func() {
				var err error
				if res, err = m.Mine(context.Background(), tpl, target); err != nil {
					t.Fatal(err)
				}
			})
			return a, res
		}
		small, _ := allocs(2)
		big, res := allocs(16)
		bound := small + float64(workers*hasher.Digits(res.Nonce)*4)
		if chunks := res.Hashes / chunk; float64(chunks) < 4*bound {
			t.Fatalf("%s: %d chunks: too little work to tell a per-chunk allocation from the bound %v", h.Name(), chunks, bound)
		}
		if big > bound {
			t.Errorf("%s: %v allocations for %d hashes, %v for a handful: the hot loop allocates", h.Name(), big, res.Hashes, small)
		}
	}
}

func TestMinerDefaults(t *testing.T) {
	m := NewMiner(nil, 0)
	if m.Workers() != runtime.GOMAXPROCS(0) {
		t.Fatalf("workers %d, want GOMAXPROCS %d", m.Workers(), runtime.GOMAXPROCS(0))
	}
	if m.Hasher().Name() != hasher.Auto().Name() {
		t.Fatalf("hasher %s, want auto %s", m.Hasher().Name(), hasher.Auto().Name())
	}
}

// TestMineRangeFindsLowestInRange checks MineRange against a plain scan:
// for windows around the seed loop's solution, the answer is the lowest
// valid nonce in the window, or ErrExhausted when the window holds none.
func TestMineRangeFindsLowestInRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 20; i++ {
		b := randomBlock(rng)
		target, _ := hasher.TargetBits(3 + rng.IntN(5))
		tpl, err := b.Template()
		if err != nil {
			t.Fatal(err)
		}
		const span = 3000
		valid := make([]bool, span)
		for n := range valid {
			c := *b
			c.Nonce = uint64(n)
			var d [32]byte
			h := c.ComputeHash()
			for j := range d {
				d[j] = unhex(h[2*j])<<4 | unhex(h[2*j+1])
			}
			valid[n] = target.MeetsDigest(&d)
		}
		for j := 0; j < 10; j++ {
			lo := uint64(rng.IntN(span))
			hi := lo + uint64(rng.IntN(span-int(lo)+1))
			want, ok := uint64(0), false
			for n := lo; n < hi; n++ {
				if valid[n] {
					want, ok = n, true
					break
				}
			}
			m := NewMiner(hasher.Available()[rng.IntN(len(hasher.Available()))], 1+rng.IntN(3))
			m.SetChunk(uint64(1 + rng.IntN(500)))
			res, err := m.MineRange(context.Background(), tpl, target, lo, hi)
			switch {
			case ok && err != nil:
				t.Fatalf("[%d, %d): %v, want nonce %d", lo, hi, err, want)
			case ok && res.Nonce != want:
				t.Fatalf("[%d, %d): nonce %d, want %d", lo, hi, res.Nonce, want)
			case !ok && !errors.Is(err, ErrExhausted):
				t.Fatalf("[%d, %d): got nonce %d, err %v; want ErrExhausted", lo, hi, res.Nonce, err)
			}
		}
	}
}
