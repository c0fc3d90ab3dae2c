package engine

import (
	"context"
	"errors"
	"fmt"
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
	m := NewMiner(h, 4)
	ctx, cancel := context.WithCancel(context.Background())
	type out struct {
		err error
		at  time.Time
	}
	ch := make(chan out, 1)
	go func() {
		_, err := m.Mine(ctx, tpl, target)
		ch <- out{err, time.Now()}
	}()
	// Let it run until it has hashed something.
	for m.Hashes() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	hashesAtCancel := m.Hashes()
	cancel()
	canceledAt := time.Now()
	var o out
	select {
	case o = <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Mine did not return 5 s after cancel")
	}
	if !errors.Is(o.err, ErrCanceled) || !errors.Is(o.err, context.Canceled) {
		t.Fatalf("error %v, want ErrCanceled wrapping context.Canceled", o.err)
	}
	// A piece is 8192 compressions: under a millisecond for the
	// native kernels, a few for generic; the bound leaves room for
	// -race and a busy machine.
	if lat := o.at.Sub(canceledAt); lat > 250*time.Millisecond {
		t.Errorf("Mine returned %v after cancel", lat)
	}
	if hashesAtCancel == 0 {
		t.Error("no hashes counted while mining")
	}
	// Every worker has returned: Mine waits for them, so the
	// goroutine count is back where it started.
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Mine returned, %d before", n, before)
	}
}

// TestMineAllocationsDoNotGrowWithWork checks that the hot loop allocates
// nothing: with small chunks, a search that claims thousands of chunks
// allocates no more than one that claims a handful (what remains is the
// fixed cost of starting the workers).
func TestMineAllocationsDoNotGrowWithWork(t *testing.T) {
	b := randomBlock(rand.New(rand.NewPCG(2, 2)))
	tpl, _ := b.Template()
	for _, h := range hasher.Available() {
		m := NewMiner(h, 2)
		m.SetChunk(64)
		allocs := func(bits int) (float64, uint64) {
			target, _ := hasher.TargetBits(bits)
			var hashes uint64
			a := testing.AllocsPerRun(2, func() {
				res, err := m.Mine(context.Background(), tpl, target)
				if err != nil {
					t.Fatal(err)
				}
				hashes = res.Hashes
			})
			return a, hashes
		}
		small, smallHashes := allocs(2)
		big, bigHashes := allocs(16)
		if bigHashes < 50*smallHashes {
			t.Fatalf("%s: workloads too similar: %d vs %d hashes", h.Name(), smallHashes, bigHashes)
		}
		if big > small+1 {
			t.Errorf("%s: %v allocations for %d hashes, %v for %d: the hot loop allocates", h.Name(), big, bigHashes, small, smallHashes)
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
