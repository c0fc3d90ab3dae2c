package bench

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// benchBlocks is the number of blocks one BenchmarkMine operation mines.
const benchBlocks = 8

// BenchmarkMine is powchain bench's solve measurement as a Go benchmark,
// for benchstat: one operation mines the same benchBlocks blocks of the
// workload (seed 1) to the difficulty with the engine, so every run and
// every commit does exactly the same work and ns/op compares directly.
//
// difficulty=4 (65536 hashes a block on average) is dominated by hashing;
// difficulty=2 (256) by the start-up of each Mine call. hashes/s and
// compressions/s are the totals over the elapsed time; with more than one
// worker the hashes include those past the solution.
//
// Sub-benchmarks are named by their parameters:
// BenchmarkMine/hasher=shani/workers=2/txs=1/difficulty=4.
func BenchmarkMine(b *testing.B) {
	workers := []int{1}
	if n := runtime.GOMAXPROCS(0); n > 1 {
		workers = append(workers, n)
	}
	type shape struct{ txs, difficulty int }
	shapes := []shape{{1, 2}, {1, 4}, {10, 4}}
	for _, h := range hasher.Available() {
		for _, w := range workers {
			for _, s := range shapes {
				name := fmt.Sprintf("hasher=%s/workers=%d/txs=%d/difficulty=%d", h.Name(), w, s.txs, s.difficulty)
				b.Run(name, func(b *testing.B) { benchMine(b, h, w, s.txs, s.difficulty) })
			}
		}
	}
}

func benchMine(b *testing.B, h hasher.Hasher, workers, txs, difficulty int) {
	target, err := hasher.TargetHexZeros(difficulty)
	if err != nil {
		b.Fatal(err)
	}
	tpls := make([]*hasher.Template, benchBlocks)
	for i := range tpls {
		if tpls[i], err = Block(1, txs, difficulty, i).Template(); err != nil {
			b.Fatal(err)
		}
	}
	m := engine.NewMiner(h, workers)
	ctx := context.Background()
	var hashes, comps float64
	b.ReportAllocs()
	for b.Loop() {
		for _, t := range tpls {
			res, err := m.Mine(ctx, t, target)
			if err != nil {
				b.Fatal(err)
			}
			hashes += float64(res.Hashes)
			comps += Compressions(t, res.Hashes)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(hashes/secs, "hashes/s")
	b.ReportMetric(comps/secs, "compressions/s")
}
