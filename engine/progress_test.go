package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powchain/powchain/hasher"
)

// TestFrontierNeverAhead runs the worker pool over a small nonce space
// with a piece function that marks every nonce it hashes and yields at
// random, while a reader samples the frontier: every nonce below each
// sample must already be marked, and the samples never go down. The
// pieces wait (up to a deadline) for the reader to keep up, so that the
// samples are taken during the run however the scheduler treats the
// reader on a loaded machine. Run
// under -race with many workers, chunk and piece sizes that do not
// divide each other, a solution or none, canceled or not.
func TestFrontierNeverAhead(t *testing.T) {
	const space = 1 << 15
	for i, tc := range []struct {
		workers  int
		chunk    uint64
		first    uint64
		solution uint64 // space: none
		cancel   bool
	}{
		{workers: 8, chunk: 7, first: 0, solution: space},
		{workers: 3, chunk: 64, first: 1000, solution: space},
		{workers: 8, chunk: 13, first: 5, solution: 20000},
		{workers: 5, chunk: 1, first: 0, solution: 9000},
		{workers: 8, chunk: 32, first: 0, solution: space, cancel: true},
		{workers: 2, chunk: 100, first: 77, solution: 30000, cancel: true},
	} {
		var hashed [space]atomic.Bool
		m := NewMiner(nil, tc.workers)
		m.SetChunk(tc.chunk)
		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Uint64
		var p Progress
		var seed atomic.Uint64
		var samples, ahead, pieces atomic.Uint64
		// The pieces wait for the reader at most this long a case: it
		// runs out only if the reader is stuck (a case takes about 2 s
		// at -cpu 1 under -race on a loaded 2-core machine).
		deadline := time.Now().Add(30 * time.Second)
		newPiece := func() pieceFunc {
			rng := rand.New(rand.NewPCG(uint64(i), seed.Add(1)))
			return func(lo, hi uint64) (uint64, uint64, bool, uint64) {
				for want := pieces.Add(1) / 100; samples.Load() < want && time.Now().Before(deadline); {
					runtime.Gosched()
				}
				end := min(hi, lo+1+uint64(rng.IntN(5)))
				if rng.IntN(4) == 0 {
					runtime.Gosched()
				}
				for n := lo; n < end; n++ {
					if n == tc.solution {
						return end, n, true, n - lo + 1
					}
					hashed[n].Store(true)
				}
				if tc.cancel && calls.Add(1) == 2000 {
					cancel()
				}
				return end, 0, false, end - lo
			}
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			last := uint64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				f, ok := p.Frontier()
				if !ok {
					runtime.Gosched()
					continue
				}
				samples.Add(1)
				if f < last {
					t.Errorf("case %d: frontier went down from %d to %d", i, last, f)
				}
				last = f
				for n := tc.first; n < f; n++ {
					if !hashed[n].Load() {
						ahead.Add(1)
						t.Errorf("case %d: frontier %d, but nonce %d is not hashed", i, f, n)
						break
					}
				}
				// Let the pieces run: with one P (-cpu 1) a reader that
				// never yields holds it for a whole time slice (10 ms)
				// each time a piece yields to it.
				runtime.Gosched()
			}
		})
		n, _, err := m.run(ctx, "test", tc.first, space, &p, newPiece)
		close(stop)
		wg.Wait()
		cancel()
		f, _ := p.Frontier()
		for k := tc.first; k < f; k++ {
			if !hashed[k].Load() {
				t.Fatalf("case %d: final frontier %d, but nonce %d is not hashed", i, f, k)
			}
		}
		switch {
		case tc.cancel:
			if !errors.Is(err, ErrCanceled) {
				t.Fatalf("case %d: %v, want canceled", i, err)
			}
			if f <= tc.first {
				t.Errorf("case %d: frontier %d after 2000 pieces: no progress reported", i, f)
			}
		case tc.solution < space:
			if err != nil || n != tc.solution {
				t.Fatalf("case %d: nonce %d, %v; want %d", i, n, err, tc.solution)
			}
			if f > n {
				t.Errorf("case %d: frontier %d above the solution %d", i, f, n)
			}
		default:
			if !errors.Is(err, ErrExhausted) {
				t.Fatalf("case %d: %v, want exhausted", i, err)
			}
			if f != space {
				t.Errorf("case %d: frontier %d after an exhausted search of [%d, %d)", i, f, tc.first, space)
			}
		}
		if s, p := samples.Load(), pieces.Load(); s < p/100 {
			t.Errorf("case %d: the frontier was sampled %d times in %d pieces; want one in 100 at least", i, s, p)
		}
	}
}

// TestMineResumesFromFrontier cancels a real search part way, resumes it
// from the frontier it reported and gets the nonce an uninterrupted Mine
// gets, with fewer hashes than the uninterrupted run.
func TestMineResumesFromFrontier(t *testing.T) {
	b := randomBlock(rand.New(rand.NewPCG(7, 7)))
	tpl, err := b.Template()
	if err != nil {
		t.Fatal(err)
	}
	target, _ := hasher.TargetBits(18)
	for _, h := range hasher.Available() {
		m := NewMiner(h, 3)
		m.SetChunk(1 << 10)
		want, err := m.Mine(context.Background(), tpl, target)
		if err != nil {
			t.Fatal(err)
		}
		if want.Nonce < 1<<14 {
			t.Fatalf("nonce %d: too low to stop before it", want.Nonce)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var p Progress
		done := make(chan error, 1)
		go func() {
			_, err := m.MineRangeProgress(ctx, tpl, target, 0, 1<<63, &p)
			done <- err
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if f, _ := p.Frontier(); f >= 1<<12 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		err = <-done
		f, _ := p.Frontier()
		if err == nil {
			t.Logf("%s: the search ended before it was canceled", h.Name())
			continue
		}
		if !errors.Is(err, ErrCanceled) || f == 0 || f > want.Nonce {
			t.Fatalf("%s: %v, frontier %d; want canceled with a frontier in (0, %d]", h.Name(), err, f, want.Nonce)
		}
		got, err := m.MineRange(context.Background(), tpl, target, f, 1<<63)
		if err != nil || got.Nonce != want.Nonce || got.Hash != want.Hash {
			t.Fatalf("%s: resumed from %d: nonce %d %x (%v), want %d %x", h.Name(), f, got.Nonce, got.Hash, err, want.Nonce, want.Hash)
		}
		if got.Hashes >= want.Hashes+uint64(m.Workers())*(1<<10) {
			t.Errorf("%s: the resumed search hashed %d, the whole one %d", h.Name(), got.Hashes, want.Hashes)
		}
	}
}
