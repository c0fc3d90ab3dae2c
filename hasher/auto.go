package hasher

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// unsettled, when not nil, reports whether this CPU's order of two
// available kernels, first ranked above second, is not established: no
// machine of its kind has measured it. Auto then measures them. Set once
// at init by the kernels that know (avx512_amd64.go).
var unsettled func(first, second string) bool

// Trial is what Auto measured on this machine when the ranking of its best
// kernels was not established for this CPU: each candidate's hashes per
// second on one thread, in the order of Names.
type Trial struct {
	Names []string
	Rates []float64 // nonces hashed per second, best sample
}

// String is "avx512 19.0 MH/s, shani 7.8 MH/s".
func (t *Trial) String() string {
	var b strings.Builder
	for i, n := range t.Names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		b.WriteByte(' ')
		b.WriteString(formatRate(t.Rates[i]))
	}
	return b.String()
}

func formatRate(r float64) string {
	return strconv.FormatFloat(r/1e6, 'f', 1, 64) + " MH/s"
}

var (
	autoMu     sync.Mutex
	autoTrials = map[string]*Trial{} // by the candidates' names, comma-joined
)

// Auto returns the fastest kernel this CPU and build can run: the first of
// Available, unless this CPU's order of it and another available kernel
// is not established (AMD CPUs with both SHA-NI and AVX-512, see
// avx512Rank); then it measures them once per process, about 30 ms on one
// thread, and returns the faster. AutoTrial says what it measured.
func Auto() Hasher {
	h, _ := AutoTrial()
	return h
}

// AutoTrial returns Auto's kernel and, when Auto had to measure to choose
// it, the measurement (nil otherwise).
func AutoTrial() (Hasher, *Trial) {
	avail := Available()
	cands := candidates(avail)
	if len(cands) == 1 {
		return cands[0], nil
	}
	var names []string
	for _, h := range cands {
		names = append(names, h.Name())
	}
	key := strings.Join(names, ",")
	autoMu.Lock()
	defer autoMu.Unlock()
	t := autoTrials[key]
	if t == nil {
		t = Measure(cands, 30*time.Millisecond)
		autoTrials[key] = t
	}
	return cands[fastest(t)], t
}

// candidates returns the first of avail and every other kernel whose order
// with it is unsettled on this CPU.
func candidates(avail []Hasher) []Hasher {
	cands := avail[:1]
	if unsettled == nil {
		return cands
	}
	for _, h := range avail[1:] {
		if Canonical(h.Name()) == h.Name() && unsettled(avail[0].Name(), h.Name()) {
			cands = append(slices.Clip(cands), h)
		}
	}
	return cands
}

// fastest returns the index of the highest rate; the earlier kernel (the
// higher ranked) on a tie.
func fastest(t *Trial) int {
	best := 0
	for i, r := range t.Rates {
		if r > t.Rates[best] {
			best = i
		}
	}
	return best
}

// measureTemplate is the block Measure hashes: the seed's JSON block with
// one transaction, 240 bytes with a 7-digit nonce, four compressions a
// nonce, the size of the blocks a node mines most.
var measureTemplate = NewTemplate([]byte(`{"index": 1, "nonce": `),
	[]byte(`, "previous_hash": "`+strings.Repeat("0123456789abcdef", 4)+
		`", "timestamp": 1576665446.403836, "transactions": [{"author": "alice", "content": "pay bob", "timestamp": 1576665446.403836}]}`))

// Measure hashes measureTemplate's nonces with each kernel on the calling
// goroutine, locked to its thread, for about budget in all, and returns
// each kernel's rate: samples of the kernels alternate, and each rate is
// that of its fastest sample, so that a sample slowed by other work on the
// machine does not count.
func Measure(hs []Hasher, budget time.Duration) *Trial {
	const rounds = 5
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l := measureTemplate.Layout(7)
	target, _ := TargetBits(64) // unreachable in practice: every nonce is hashed
	lo, hi := DigitRange(7)
	slice := budget / time.Duration(rounds*len(hs))
	t := &Trial{Rates: make([]float64, len(hs))}
	ss := make([]Searcher, len(hs))
	chunk := make([]uint64, len(hs))
	next := lo
	search := func(i int, n uint64) time.Duration {
		if next+n > hi {
			next = lo
		}
		start := time.Now()
		ss[i].Search(l, next, next+n, target)
		next += n
		return time.Since(start)
	}
	for i, h := range hs {
		t.Names = append(t.Names, h.Name())
		ss[i] = h.NewSearcher()
		search(i, uint64(h.Lanes())) // the searcher sees the layout once
		// Size the samples: the number of nonces that takes about slice.
		n := uint64(64 * h.Lanes())
		d := search(i, n)
		for d < slice/8 && n < 1<<20 {
			n *= 2
			d = search(i, n)
		}
		if d > 0 {
			n = max(n*uint64(slice)/uint64(d), uint64(h.Lanes()))
		}
		chunk[i] = min(n, hi-lo)
	}
	for range rounds {
		for i := range hs {
			n := chunk[i]
			if r := float64(n) / search(i, n).Seconds(); r > t.Rates[i] {
				t.Rates[i] = r
			}
		}
	}
	return t
}
