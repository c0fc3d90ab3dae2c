package hasher

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkHeader measures one worker of every kernel with a header mode:
// each iteration searches 4096 nonces of a random header against the zero
// target, which no hash meets, so every nonce is hashed. MH/s is millions
// of nonces per second; compressions/s counts 2 per nonce (the first 64
// bytes are in the midstate), the work cpuminer-opt's sha256d also does.
// cpu-MH/s divides by the CPU time the process used instead of the wall
// time, which on a machine shared with other work is the steadier figure.
func BenchmarkHeader(b *testing.B) {
	const chunk = 4096
	hdr := randHeader(rand.New(rand.NewPCG(19, 20)))
	job := NewHeaderJob(&hdr)
	var target HeaderTarget
	for _, h := range HeaderKernels() {
		b.Run("hasher="+h.Name(), func(b *testing.B) {
			s := h.NewHeaderSearcher()
			s.SearchHeader(job, 0, 1, target)
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			var hashes, n uint64
			for i := 0; i < b.N; i++ {
				if n+chunk > HeaderNonces {
					n = 0
				}
				_, found, k := s.SearchHeader(job, n, n+chunk, target)
				if found {
					b.Fatal("found a nonce for the zero target")
				}
				hashes += k
				n += chunk
			}
			b.StopTimer()
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(hashes)/secs/1e6, "MH/s")
			if cpu := processCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(hashes)/cpu/1e6, "cpu-MH/s")
			}
			b.ReportMetric(2*float64(hashes)/secs, "compressions/s")
		})
	}
}
