//go:build amd64 && gc && !purego && !noasm

package hasher

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

func needAVX512(t testing.TB) {
	t.Helper()
	if !Features.AVX512 {
		t.Skip("CPU lacks AVX-512 F and VL")
	}
}

// avx512Case compares every solution of the avx512 kernel in a range with
// the generic kernel's, with the assembly's first-word test given apart
// so that tests can make it weaker than the target.
type avx512Case struct {
	t       *testing.T
	rng     *rand.Rand
	s       *avx512Searcher
	generic Searcher
	checked int // nonces compared
}

func newAVX512Case(t *testing.T, seed uint64) *avx512Case {
	needAVX512(t)
	return &avx512Case{t: t, rng: rand.New(rand.NewPCG(seed, 512)), s: &avx512Searcher{}, generic: genericHasher{}.NewSearcher()}
}

// searchAll finds every solution in [lo, hi) by restarting after each one,
// checking that hashes counts the nonces up to the solution's pass.
func (c *avx512Case) searchAll(l *Layout, lo, hi uint64, target Target, firstMask uint32) []uint64 {
	c.t.Helper()
	var out []uint64
	for lo < hi {
		n, ok, hashes := c.s.search(l, lo, hi, target, firstMask)
		if !ok {
			if n != hi || hashes != hi-lo {
				c.t.Fatalf("no solution: got nonce %d hashes %d, want %d %d", n, hashes, hi, hi-lo)
			}
			break
		}
		if n < lo || n >= hi {
			c.t.Fatalf("solution %d outside [%d, %d)", n, lo, hi)
		}
		if most := min(hi-lo, (n-lo)/avx512Lanes*avx512Lanes+avx512Lanes); hashes < n-lo+1 || hashes > most {
			c.t.Fatalf("solution %d in [%d, %d): hashes %d, want [%d, %d]", n, lo, hi, hashes, n-lo+1, most)
		}
		out = append(out, n)
		lo = n + 1
	}
	return out
}

func (c *avx512Case) compare(l *Layout, lo, hi uint64, target Target, firstMask uint32) {
	c.t.Helper()
	want := searchAll(c.t, c.generic, l, lo, hi, target)
	got := c.searchAll(l, lo, hi, target, firstMask)
	if !equal(got, want) {
		c.t.Fatalf("message %d bytes, nonce at %d (tail offset %d, %d nonce blocks of %d), %d digits, [%d, %d) %v: got %v, want %v",
			l.MsgLen, l.NonceOff, l.TailOff, l.NonceBlocks, len(l.Tail)/64, l.Digits, lo, hi, target, got, want)
	}
	c.checked += int(hi - lo)
}

// run checks prefix || d digits || suffix on count nonces from a random
// start (or either end of the digit range, now and then) with a target of
// 0 to 8 bits.
func (c *avx512Case) run(prefix, suffix []byte, d int, count uint64) {
	l := NewTemplate(prefix, suffix).Layout(d)
	lo, hi := DigitRange(d)
	count = min(count, hi-lo)
	var start uint64
	switch c.rng.IntN(8) {
	case 0:
		start = lo
	case 1:
		start = hi - count
	default:
		start = lo + c.rng.Uint64N(hi-lo-count+1)
	}
	target, _ := TargetBits(c.rng.IntN(9))
	c.compare(l, start, start+count, target, target.FirstMask())
}

// TestAVX512Offsets covers every nonce length 1..20 at every offset of the
// first digit in its 64-byte block (so every way the digits cross into the
// next block and every round the kernel enters at), after 0, 1 or 2 whole
// prefix blocks, with suffixes that put the padding in the nonce block,
// the next one or several blocks later. Ranges of up to 80 nonces run up
// to five passes, so the in-assembly increment of 16 carries often.
func TestAVX512Offsets(t *testing.T) {
	c := newAVX512Case(t, 1)
	for d := 1; d <= MaxDigits; d++ {
		for off := 0; off < 64; off++ {
			for skip := 0; skip < 3; skip++ {
				prefix := randBytes(c.rng, 64*skip+off)
				suffix := randBytes(c.rng, (7*off+13*d+50*skip)%200)
				c.run(prefix, suffix, d, uint64(1+c.rng.IntN(80)))
			}
		}
	}
	t.Logf("%d nonces compared", c.checked)
}

// TestAVX512Lengths covers every message length 1..2000 bytes (600 with
// -short): every nonce length that fits for messages up to 300 bytes, three
// nonce lengths (cycling through 1..20) for longer ones, with the nonce at
// an offset that varies with both lengths.
func TestAVX512Lengths(t *testing.T) {
	c := newAVX512Case(t, 2)
	maxLen := 2000
	if testing.Short() {
		maxLen = 600
	}
	for n := 1; n <= maxLen; n++ {
		var ds []int
		if n <= 300 {
			for d := 1; d <= min(n, MaxDigits); d++ {
				ds = append(ds, d)
			}
		} else {
			ds = []int{1 + n%MaxDigits, 1 + (7*n+3)%MaxDigits, 1 + (13*n+11)%MaxDigits}
		}
		for _, d := range ds {
			p := (37*n + 11*d) % (n - d + 1)
			count := uint64(1 + c.rng.IntN(64))
			if n > 500 {
				count = uint64(1 + c.rng.IntN(24))
			}
			c.run(randBytes(c.rng, p), randBytes(c.rng, n-d-p), d, count)
		}
	}
	t.Logf("%d nonces compared", c.checked)
}

// TestAVX512PartialPasses searches ranges of 1..33 nonces, from starts with
// every last digit, up to the ends of digit ranges and of the nonce space,
// with every nonce a solution (0 bits) and with some.
func TestAVX512PartialPasses(t *testing.T) {
	c := newAVX512Case(t, 3)
	zero, _ := TargetBits(0)
	for _, tc := range []struct{ prefix, suffix, d int }{
		{22, 200, 6}, {60, 3, 7}, {0, 0, 1}, {61, 70, 20}, {100, 400, 12}, {63, 0, 2}, {5, 9, 3},
	} {
		l := NewTemplate(randBytes(c.rng, tc.prefix), randBytes(c.rng, tc.suffix)).Layout(tc.d)
		lo, hi := DigitRange(tc.d)
		for count := uint64(1); count <= 2*avx512Lanes+1; count++ {
			count := min(count, hi-lo)
			starts := []uint64{lo, hi - count}
			for i := 0; i < 10 && hi-lo > count+10; i++ {
				starts = append(starts, lo+c.rng.Uint64N(hi-lo-count-10)/10*10+uint64(i))
			}
			for _, start := range starts {
				c.compare(l, start, start+count, zero, zero.FirstMask())
				target, _ := TargetBits(1 + c.rng.IntN(3))
				c.compare(l, start, start+count, target, target.FirstMask())
			}
		}
	}
	// The last nonces of the whole space: 2^64-1 itself is never searched.
	l := NewTemplate([]byte("x"), nil).Layout(20)
	for count := uint64(1); count <= 2*avx512Lanes+1; count++ {
		c.compare(l, math.MaxUint64-count, math.MaxUint64, zero, 0)
	}
}

// TestAVX512LongRanges searches ranges of thousands of nonces, where one
// assembly call runs many passes and the nonces carry across several
// digits (also runs of nines, from starts just below a power of ten), with
// targets that make solutions rare and a first-word mask weaker than the
// target half of the time, so that the assembly stops at passes that do
// not meet it and resumes.
func TestAVX512LongRanges(t *testing.T) {
	c := newAVX512Case(t, 4)
	iters := 40
	if testing.Short() {
		iters = 12
	}
	for i := 0; i < iters; i++ {
		prefix := randBytes(c.rng, c.rng.IntN(150))
		suffix := randBytes(c.rng, c.rng.IntN(400))
		d := 3 + c.rng.IntN(MaxDigits-2)
		l := NewTemplate(prefix, suffix).Layout(d)
		lo, hi := DigitRange(d)
		count := min(uint64(500+c.rng.IntN(3000)), hi-lo)
		start := lo + c.rng.Uint64N(hi-lo-count+1)
		switch i % 4 {
		case 0:
			start = hi - count // up to the last nonce with d digits
		case 1:
			// Through a run of nines in the middle digits.
			p := pow10[1+c.rng.IntN(d-2)]
			start = max(lo, (start/p+1)*p-uint64(c.rng.IntN(40))-1)
			start = min(start, hi-count)
		}
		target, _ := TargetBits(6 + c.rng.IntN(5))
		mask := target.FirstMask()
		if i%2 == 1 {
			mask = 0xc0000000
		}
		c.compare(l, start, start+count, target, mask)
	}
	t.Logf("%d nonces compared", c.checked)
}

// TestAVX512WeakMask makes the assembly report every lane (first-word mask
// 0) so that the Go side's full target check, and resuming the assembly
// after a pass with no real solution, run on every pass.
func TestAVX512WeakMask(t *testing.T) {
	c := newAVX512Case(t, 5)
	for i := 0; i < 60; i++ {
		prefix := randBytes(c.rng, c.rng.IntN(300))
		suffix := randBytes(c.rng, c.rng.IntN(300))
		d := 1 + c.rng.IntN(MaxDigits)
		l := NewTemplate(prefix, suffix).Layout(d)
		lo, hi := DigitRange(d)
		count := min(uint64(1+c.rng.IntN(100)), hi-lo)
		start := lo + c.rng.Uint64N(hi-lo-count+1)
		target, _ := TargetBits(3 + c.rng.IntN(4))
		c.compare(l, start, start+count, target, 0)
	}
}

// TestAVX512States checks every word of every lane's digest, as the
// assembly leaves them for the Go side, over several passes of one call.
func TestAVX512States(t *testing.T) {
	needAVX512(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 50; i++ {
		prefix := randBytes(rng, rng.IntN(200))
		suffix := randBytes(rng, rng.IntN(200))
		d := 3 + rng.IntN(MaxDigits-2)
		l := NewTemplate(prefix, suffix).Layout(d)
		lo, hi := DigitRange(d)
		n := lo + rng.Uint64N(hi-lo-80)
		s := &avx512Searcher{}
		s.setLayout(l)
		s.hdr(avx512HdrMask, 0) // every lane passes
		s.setLanes(l, n)
		for pass := 0; pass < 4; pass++ {
			done, lanes := avx512Search(&s.arena[0], 3, 0x7fff)
			if done != 1 || lanes != 0xffff {
				t.Fatalf("pass %d: done %d lanes %#x, want 1 0xffff", pass, done, lanes)
			}
			for lane := 0; lane < avx512Lanes; lane++ {
				var h [8]uint32
				for k := range h {
					h[k] = s.lane(avx512ArenaSave+avx512Vec*k, lane)
				}
				msg := message(prefix, suffix, n)
				if got, want := stateDigest(&h), Sum(msg); got != want {
					t.Fatalf("%q: lane %d digest %x, want %x", msg, lane, got, want)
				}
				n++
			}
		}
		done, lanes := avx512Search(&s.arena[0], 1, 0x7fff)
		if done != 1 || lanes != 0x7fff {
			t.Fatalf("last pass: done %d lanes %#x, want 1 0x7fff", done, lanes)
		}
	}
}

// TestAVX512Unsupported switches AVX-512 off: the kernel is refused with
// ErrUnsupported and a message naming what it needs, and neither Available
// nor Auto offers it.
func TestAVX512Unsupported(t *testing.T) {
	defer Disable("avx512")()
	h, err := Lookup("avx512")
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Lookup(avx512) without AVX-512 = %v, %v; want ErrUnsupported", h, err)
	}
	if !strings.Contains(err.Error(), "avx512") || !strings.Contains(err.Error(), "AVX-512") {
		t.Errorf("Lookup(avx512) error %q does not name the kernel and AVX-512", err)
	}
	for _, h := range Available() {
		if h.Name() == "avx512" {
			t.Fatal("avx512 available without AVX-512")
		}
	}
	if Auto().Name() == "avx512" {
		t.Fatal("Auto() is avx512 without AVX-512")
	}
}

// TestAutoWithoutSHANI checks Auto's choice on CPUs without SHA-NI, made
// by switching features off: avx512 where AVX-512 is left, avx2 where only
// AVX2 is, and a library kernel with neither.
func TestAutoWithoutSHANI(t *testing.T) {
	has := Features
	for _, tc := range []struct {
		off  []string
		need bool // the CPU has what the expected kernel needs
		want string
	}{
		{[]string{"shani"}, has.AVX512, "avx512"},
		{[]string{"shani", "avx512"}, has.AVX2, "avx2"},
		{[]string{"shani", "avx512", "avx2"}, true, "std"},
	} {
		t.Run(strings.Join(tc.off, ","), func(t *testing.T) {
			if !tc.need {
				t.Skipf("CPU lacks what %s needs", tc.want)
			}
			defer Disable(tc.off...)()
			if got := Auto().Name(); got != tc.want {
				t.Errorf("Auto() with %v off = %q, want %q", tc.off, got, tc.want)
			}
		})
	}
	if Features != has {
		t.Fatalf("features not restored: %+v, want %+v", Features, has)
	}
}

// TestAVX512AutoRank checks Auto's choice with every feature this CPU has:
// avx512 on an Intel CPU with AVX-512, SHA-NI or not; shani on another
// vendor's CPU with SHA-NI.
func TestAVX512AutoRank(t *testing.T) {
	needAVX512(t)
	want := "avx512"
	if cpuid.CPU.VendorID != cpuid.Intel && Features.SHANI {
		want = "shani"
	}
	if got := Auto().Name(); got != want {
		t.Errorf("Auto() = %q on %s (SHA-NI %v), want %q", got, cpuid.CPU.VendorString, Features.SHANI, want)
	}
}
