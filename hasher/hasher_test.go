package hasher

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestSumMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if got, want := Sum(p), sha256.Sum256(p); got != want {
			t.Fatalf("len %d: Sum = %x, want %x", n, got, want)
		}
	}
}

// message returns the template's message for nonce n, built the slow way.
func message(prefix, suffix []byte, n uint64) []byte {
	return append(strconv.AppendUint(append([]byte(nil), prefix...), n, 10), suffix...)
}

func randBytes(rng *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(32 + rng.IntN(95))
	}
	return p
}

func TestLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 400; i++ {
		prefix := randBytes(rng, rng.IntN(200))
		suffix := randBytes(rng, rng.IntN(200))
		tpl := NewTemplate(prefix, suffix)
		for d := 1; d <= MaxDigits; d++ {
			l := tpl.Layout(d)
			lo, _ := DigitRange(d)
			n := lo + uint64(rng.IntN(5))
			msg := message(prefix, suffix, n)
			if l.MsgLen != len(msg) || l.Digits != d {
				t.Fatalf("layout %d: MsgLen %d Digits %d, want %d %d", d, l.MsgLen, l.Digits, len(msg), d)
			}
			// Rebuild the digest from midstate and tail.
			tail := append([]byte(nil), l.Tail...)
			PutDigits(tail[l.TailOff:l.TailOff+d], n)
			h := l.Mid
			blockGeneric(&h, tail)
			if got, want := stateDigest(&h), sha256.Sum256(msg); got != want {
				t.Fatalf("prefix %d suffix %d digits %d: digest %x, want %x", len(prefix), len(suffix), d, got, want)
			}
			if l.Blocks != (len(msg)+8)/64+1 {
				t.Fatalf("Blocks = %d for %d bytes", l.Blocks, len(msg))
			}
			if nb := (l.TailOff+d-1)/64 + 1; l.NonceBlocks != nb || nb > 2 {
				t.Fatalf("NonceBlocks = %d", l.NonceBlocks)
			}
			m := append([]byte(nil), l.Msg...)
			PutDigits(m[l.NonceOff:l.NonceOff+d], n)
			if !bytes.Equal(m, msg) {
				t.Fatalf("Msg with digits = %q, want %q", m, msg)
			}
		}
	}
}

func TestDigits(t *testing.T) {
	for d := 1; d <= MaxDigits; d++ {
		lo, hi := DigitRange(d)
		if Digits(lo) != d || Digits(hi-1) != d {
			t.Fatalf("DigitRange(%d) = [%d, %d)", d, lo, hi)
		}
	}
	buf := []byte("0000")
	for n := uint64(0); n < 10000; n++ {
		want := []byte("0000")
		PutDigits(want, n)
		if !bytes.Equal(buf, want) {
			t.Fatalf("IncDigits reached %q, want %q", buf, want)
		}
		if !IncDigits(buf) && n != 9999 {
			t.Fatalf("IncDigits overflowed at %d", n)
		}
	}
}

func TestTarget(t *testing.T) {
	if _, err := TargetHexZeros(-1); err == nil {
		t.Fatal("negative difficulty accepted")
	}
	if _, err := TargetBits(257); err == nil {
		t.Fatal("257 bits accepted")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20000; i++ {
		var d [32]byte
		for j := range d {
			d[j] = byte(rng.Uint32())
		}
		// Zero a random number of leading bits so high difficulties are hit.
		z := rng.IntN(257)
		for b := 0; b < z; b++ {
			d[b/8] &^= 0x80 >> (b % 8)
		}
		lz := LeadingZeroBits(&d)
		bitsWanted := rng.IntN(257)
		tg, err := TargetBits(bitsWanted)
		if err != nil {
			t.Fatal(err)
		}
		if got := tg.MeetsDigest(&d); got != (lz >= bitsWanted) {
			t.Fatalf("digest %x (%d zero bits) meets %d bits: %v", d, lz, bitsWanted, got)
		}
		h := digestState(&d)
		if tg.MeetsState(&h) != tg.MeetsDigest(&d) {
			t.Fatal("MeetsState and MeetsDigest disagree")
		}
		if tg.MeetsState(&h) && h[0]&tg.FirstMask() != 0 {
			t.Fatal("FirstMask rejects a digest that meets the target")
		}
	}
}

// solutions returns every nonce in [lo, hi) that meets target, the slow way.
func solutions(prefix, suffix []byte, lo, hi uint64, target Target) []uint64 {
	var out []uint64
	for n := lo; n < hi; n++ {
		d := sha256.Sum256(message(prefix, suffix, n))
		if target.MeetsDigest(&d) {
			out = append(out, n)
		}
	}
	return out
}

// checkEveryLength hashes templates of every total message length 1..maxLen
// bytes (nonce included) with each of kernels and compares all solutions
// with the generic kernel's: the nonce and the padding at every offset in a
// block, 0 to 32 constant blocks, nonces that straddle two blocks. Every
// nonce length d = 1+(n+k)%20 (up to n) for which keep(n, k) holds is tried
// with every length n; the prefix/suffix split is random. Ranges hold 1 to
// 13 nonces (mostly not a multiple of the lanes) from either end of the
// digit range or a random place; targets of 0 to 4 bits make most ranges
// have solutions, and 0 bits makes every lane of a pass succeed.
func checkEveryLength(t *testing.T, kernels []Hasher, rng *rand.Rand, maxLen int, keep func(n, k int) bool) {
	t.Helper()
	gen := genericHasher{}.NewSearcher()
	searchers := make([]Searcher, len(kernels))
	for i, h := range kernels {
		searchers[i] = h.NewSearcher()
	}
	for n := 1; n <= maxLen; n++ {
		for k := 0; k < MaxDigits; k++ {
			if !keep(n, k) {
				continue
			}
			d := 1 + (n+k)%MaxDigits
			if d > n {
				continue
			}
			p := rng.IntN(n - d + 1)
			tpl := NewTemplate(randBytes(rng, p), randBytes(rng, n-d-p))
			l := tpl.Layout(d)
			lo, hi := DigitRange(d)
			count := min(uint64(1+n%13), hi-lo)
			var start uint64
			switch n % 3 {
			case 0:
				start = lo
			case 1:
				start = hi - count
			default:
				start = lo + rng.Uint64N(hi-lo-count+1)
			}
			target, _ := TargetBits(n % 5)
			want := searchAll(t, gen, l, start, start+count, target)
			for i, s := range searchers {
				if got := searchAll(t, s, l, start, start+count, target); !equal(got, want) {
					t.Fatalf("%s: length %d (prefix %d) digits %d [%d,+%d) target %v: got %v, want %v",
						kernels[i].Name(), n, p, d, start, count, target, got, want)
				}
			}
		}
	}
}

// maskSearcher is a kernel's searcher with the assembly's first-word test
// given apart from the target, so that tests can make it weaker.
type maskSearcher interface {
	search(l *Layout, lo, hi uint64, target Target, firstMask uint32) (uint64, bool, uint64)
}

// longRanges says how checkLongRanges draws its ranges: iters ranges of
// minCount to minCount+spread-1 nonces, every endEvery-th one running up to
// the last nonce of its digit count.
type longRanges struct {
	iters, minCount, spread, endEvery int
}

// checkLongRanges searches long ranges with each of kernels, where the
// assembly runs many passes per call and the ASCII nonces carry across many
// digits, with targets that make solutions rare, and again with a mask
// weaker than the target so that the assembly often stops at passes that do
// not meet it; every solution is compared with the generic kernel's.
// setChunk sets the kernels' passes per assembly call: every other range
// is searched in small calls (64).
func checkLongRanges(t *testing.T, kernels []Hasher, rng *rand.Rand, r longRanges, setChunk func(int)) {
	t.Helper()
	gen := genericHasher{}.NewSearcher()
	for i := 0; i < r.iters; i++ {
		tpl := NewTemplate(randBytes(rng, rng.IntN(150)), randBytes(rng, rng.IntN(400)))
		d := 2 + rng.IntN(MaxDigits-1)
		lo, hi := DigitRange(d)
		count := min(uint64(r.minCount+rng.IntN(r.spread)), hi-lo)
		start := lo + rng.Uint64N(hi-lo-count+1)
		if i%r.endEvery == 0 {
			start = hi - count // run up to the last nonce with d digits
		}
		target, _ := TargetBits(6 + rng.IntN(5))
		l := tpl.Layout(d)
		setChunk([]int{4096, 64}[i%2])
		want := searchAll(t, gen, l, start, start+count, target)
		for _, h := range kernels {
			s := h.NewSearcher()
			if got := searchAll(t, s, l, start, start+count, target); !equal(got, want) {
				t.Fatalf("%s: digits %d [%d,+%d) target %v: got %v, want %v", h.Name(), d, start, count, target, got, want)
			}
			// The same with the assembly stopping at every pass whose h0
			// has its top two bits clear.
			var got []uint64
			for from := start; from < start+count; {
				n, ok, hashes := s.(maskSearcher).search(l, from, start+count, target, 0xc0000000)
				if hashes == 0 || hashes > start+count-from {
					t.Fatalf("%s: %d hashes for [%d, %d)", h.Name(), hashes, from, start+count)
				}
				if !ok {
					break
				}
				got = append(got, n)
				from = n + 1
			}
			if !equal(got, want) {
				t.Fatalf("%s with a weak mask: digits %d [%d,+%d) target %v: got %v, want %v", h.Name(), d, start, count, target, got, want)
			}
		}
	}
}

// searchAll finds every solution in [lo, hi) by restarting the search after
// each one, so every lane of a multi-lane kernel gets to report.
func searchAll(t *testing.T, s Searcher, l *Layout, lo, hi uint64, target Target) []uint64 {
	t.Helper()
	return everySolution(t, lo, hi, func(lo, hi uint64) (uint64, bool, uint64) {
		return s.Search(l, lo, hi, target)
	}, someHashes)
}

// everySolution finds every solution search reports in [lo, hi) by
// restarting it after each one. Each search must report a nonce in its
// range, or hi and hashes hi-lo when it finds none; bounds(lo, hi, n) gives
// the least and the most hashes a search of [lo, hi) that finds n may
// count.
func everySolution(t testing.TB, lo, hi uint64, search func(lo, hi uint64) (uint64, bool, uint64),
	bounds func(lo, hi, n uint64) (least, most uint64)) []uint64 {
	t.Helper()
	var out []uint64
	for lo < hi {
		n, ok, hashes := search(lo, hi)
		if !ok {
			if n != hi || hashes != hi-lo {
				t.Fatalf("no solution: got nonce %d hashes %d, want %d %d", n, hashes, hi, hi-lo)
			}
			break
		}
		if n < lo || n >= hi {
			t.Fatalf("solution %d outside [%d, %d)", n, lo, hi)
		}
		if least, most := bounds(lo, hi, n); hashes < least || hashes > most {
			t.Fatalf("solution %d in [%d, %d): hashes %d, want [%d, %d]", n, lo, hi, hashes, least, most)
		}
		out = append(out, n)
		lo = n + 1
	}
	return out
}

// someHashes is the bounds of everySolution for any kernel: at least one
// hash, at most the range.
func someHashes(lo, hi, n uint64) (least, most uint64) { return 1, hi - lo }

func TestKernelsAgainstReference(t *testing.T) {
	for _, h := range Available() {
		t.Run(h.Name(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(7, uint64(len(h.Name()))))
			s := h.NewSearcher()
			iters := 150
			if testing.Short() {
				iters = 30
			}
			for i := 0; i < iters; i++ {
				// Lengths chosen to put the nonce and the padding at every
				// position relative to the 64-byte blocks.
				prefix := randBytes(rng, rng.IntN(300))
				suffix := randBytes(rng, rng.IntN(300))
				tpl := NewTemplate(prefix, suffix)
				d := 1 + rng.IntN(MaxDigits)
				lo, hi := DigitRange(d)
				start := lo + rng.Uint64N(hi-lo)
				count := uint64(1 + rng.IntN(200))
				if hi-start < count {
					count = hi - start
				}
				target, _ := TargetBits(rng.IntN(7))
				want := solutions(prefix, suffix, start, start+count, target)
				got := searchAll(t, s, tpl.Layout(d), start, start+count, target)
				if !equal(got, want) {
					t.Fatalf("prefix %d suffix %d digits %d [%d,+%d) target %v: got %v, want %v",
						len(prefix), len(suffix), d, start, count, target, got, want)
				}
			}
		})
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSearchAllocatesNothing(t *testing.T) {
	tpl := NewTemplate([]byte(`{"index": 1, "nonce": `), bytes.Repeat([]byte("x"), 200))
	l := tpl.Layout(6)
	target, _ := TargetBits(64)
	for _, h := range Available() {
		s := h.NewSearcher()
		s.Search(l, 100000, 100001, target) // warm up: sizes the scratch memory
		allocs := testing.AllocsPerRun(20, func() {
			s.Search(l, 100000, 101000, target)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per search, want 0", h.Name(), allocs)
		}
	}
}

// TestHashersAreComparable guards against a kernel type that panics when
// two Hasher values are compared, as slices.Contains and map keys do.
func TestHashersAreComparable(t *testing.T) {
	seen := map[Hasher]string{}
	for _, name := range Names() {
		h := kernels[name].h
		if other, dup := seen[h]; dup {
			t.Fatalf("kernels %s and %s are the same value", name, other)
		}
		seen[h] = name
		if h != kernels[name].h {
			t.Fatalf("%s is not equal to itself", name)
		}
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("nope"); err == nil {
		t.Fatal("unknown kernel accepted")
	}
	for _, name := range Names() {
		h, err := Lookup(name)
		if err == nil && h.Name() != name {
			t.Fatalf("Lookup(%q) = %q", name, h.Name())
		}
	}
	if Auto() == nil {
		t.Fatal("no kernel")
	}
}

// TestCanonical: a kernel's other names lead to it, and a name and its
// kernel run the same code (the same lane count).
func TestCanonical(t *testing.T) {
	for _, n := range Names() {
		c := Canonical(n)
		h, err := Lookup(n)
		if err != nil {
			continue // not on this CPU
		}
		k, err := Lookup(c)
		if err != nil {
			t.Fatalf("%s is %s, which Lookup refuses: %v", n, c, err)
		}
		if Canonical(c) != c || h.Lanes() != k.Lanes() {
			t.Errorf("%s is %s: lanes %d and %d", n, c, h.Lanes(), k.Lanes())
		}
	}
	if Canonical("generic") != "generic" || Canonical("nosuch") != "nosuch" {
		t.Errorf("a kernel without other names must be its own")
	}
	if HaveAsm && Features.SHANI && Canonical("shani4") != "shani" {
		t.Errorf("shani4 is %q, want shani", Canonical("shani4"))
	}
}
