package hasher

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// benchTemplate returns a realistic block to mine: the seed's JSON block
// with txs transactions. With one transaction the whole message is 240
// bytes with a 7-digit nonce: 4 compressions per nonce.
func benchTemplate(txs int) *Template {
	prefix := []byte(`{"index": 1, "nonce": `)
	head := `, "previous_hash": "` + strings.Repeat("0123456789abcdef", 4) +
		`", "timestamp": 1576665446.403836, "transactions": [`
	const tail = `]}`
	tx := func(content string) string {
		return `{"author": "alice", "content": "` + content + `", "timestamp": 1576665446.403836}`
	}
	// Size the content so that one transaction makes a 240-byte message.
	fixed := len(prefix) + 7 + len(head) + len(tx("")) + len(tail)
	content := strings.Repeat("pay bob 1 coin. ", 16)[:240-fixed]
	var suffix bytes.Buffer
	suffix.WriteString(head)
	for i := 0; i < txs; i++ {
		if i > 0 {
			suffix.WriteString(", ")
		}
		suffix.WriteString(tx(content))
	}
	suffix.WriteString(tail)
	return NewTemplate(prefix, suffix.Bytes())
}

// BenchmarkSearch measures one worker of every kernel this machine runs:
// each iteration searches a chunk of 4096 seven-digit nonces against an
// unreachable target, so every nonce is hashed. compressions/s counts the
// layout's Blocks per nonce, midstate blocks included, so kernels that skip
// work are credited with the compressions they make unnecessary.
// cpu-compressions/s divides by the CPU time the process used instead of
// the wall time: on a machine shared with other work it is the rate of a
// core the benchmark had to itself, and far steadier.
func BenchmarkSearch(b *testing.B) {
	const chunk = 4096
	target, _ := TargetBits(64)
	for _, txs := range []int{1, 100} {
		l := benchTemplate(txs).Layout(7)
		if txs == 1 && (l.MsgLen != 240 || l.Blocks != 4) {
			b.Fatalf("txs=1 template is %d bytes, %d blocks; want 240, 4", l.MsgLen, l.Blocks)
		}
		lo, hi := DigitRange(7)
		for _, h := range Available() {
			b.Run("hasher="+h.Name()+"/txs="+strconv.Itoa(txs), func(b *testing.B) {
				s := h.NewSearcher()
				s.Search(l, lo, lo+1, target) // let the searcher see the layout
				b.ReportAllocs()
				cpu0 := processCPU()
				b.ResetTimer()
				var hashes uint64
				n := lo
				for i := 0; i < b.N; i++ {
					if n+chunk > hi {
						n = lo
					}
					_, found, k := s.Search(l, n, n+chunk, target)
					if found {
						b.Fatal("found a nonce for an unreachable target")
					}
					hashes += k
					n += chunk
				}
				b.StopTimer()
				secs := b.Elapsed().Seconds()
				b.ReportMetric(float64(hashes)/secs, "hashes/s")
				b.ReportMetric(float64(hashes)*float64(l.Blocks)/secs, "compressions/s")
				if cpu := processCPU() - cpu0; cpu > 0 {
					b.ReportMetric(float64(hashes)*float64(l.Blocks)/cpu, "cpu-compressions/s")
				}
			})
		}
	}
}

// BenchmarkWorkers runs every kernel on the one-transaction block
// with 1 and 2 goroutines, each with its own searcher and its own part of
// the nonce space, as the engine's workers do, and reports the summed
// rate per wall second and per CPU second of the process (the latter
// shows what the workers lose to each other on a shared core or memory,
// not what they lose to other processes).
func BenchmarkWorkers(b *testing.B) {
	const chunk = 4096
	target, _ := TargetBits(64)
	l := benchTemplate(1).Layout(7)
	lo, hi := DigitRange(7)
	for _, h := range Available() {
		for _, workers := range []int{1, 2} {
			b.Run("hasher="+h.Name()+"/workers="+strconv.Itoa(workers), func(b *testing.B) {
				ss := make([]Searcher, workers)
				for i := range ss {
					ss[i] = h.NewSearcher()
					ss[i].Search(l, lo, lo+1, target)
				}
				b.ReportAllocs()
				cpu0 := processCPU()
				b.ResetTimer()
				var wg sync.WaitGroup
				hashes := make([]uint64, workers)
				for w := range ss {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						span := (hi - lo) / uint64(workers)
						start := lo + uint64(w)*span
						n := start
						for i := 0; i < b.N; i++ {
							if n+chunk > start+span {
								n = start
							}
							_, found, k := ss[w].Search(l, n, n+chunk, target)
							if found {
								panic("found a nonce for an unreachable target")
							}
							hashes[w] += k
							n += chunk
						}
					}(w)
				}
				wg.Wait()
				b.StopTimer()
				cpu := processCPU() - cpu0
				var total uint64
				for _, k := range hashes {
					total += k
				}
				secs := b.Elapsed().Seconds()
				b.ReportMetric(float64(total)/secs, "hashes/s")
				b.ReportMetric(float64(total)*float64(l.Blocks)/secs, "compressions/s")
				if cpu > 0 {
					b.ReportMetric(float64(total)*float64(l.Blocks)/cpu*float64(workers), "cpu-compressions/s")
				}
			})
		}
	}
}
