//go:build amd64 && gc && !purego && !noasm

package hasher

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func needAVX2(t testing.TB) {
	t.Helper()
	if !Features.AVX2 {
		t.Skip("CPU lacks AVX2")
	}
}

// avx2SearchAll is searchAll for the avx2 searcher with firstMask as the
// assembly's first-word test, also checking that hashes counts at most the
// passes up to and including the solution's.
func avx2SearchAll(t *testing.T, s *avx2Searcher, l *Layout, lo, hi uint64, target Target, firstMask uint32) []uint64 {
	t.Helper()
	var out []uint64
	for lo < hi {
		n, ok, hashes := s.search(l, lo, hi, target, firstMask)
		if !ok {
			if n != hi || hashes != hi-lo {
				t.Fatalf("no solution: got nonce %d hashes %d, want %d %d", n, hashes, hi, hi-lo)
			}
			break
		}
		if n < lo || n >= hi {
			t.Fatalf("solution %d outside [%d, %d)", n, lo, hi)
		}
		if most := min(hi-lo, (n-lo)/8*8+8); hashes < n-lo+1 || hashes > most {
			t.Fatalf("solution %d in [%d, %d): hashes %d, want [%d, %d]", n, lo, hi, hashes, n-lo+1, most)
		}
		out = append(out, n)
		lo = n + 1
	}
	return out
}

// avx2Case compares every solution of the avx2 kernel in [lo, lo+count)
// with the generic kernel's.
type avx2Case struct {
	t       *testing.T
	rng     *rand.Rand
	avx2    *avx2Searcher
	generic Searcher
	checked int // nonces compared
}

func newAVX2Case(t *testing.T, seed uint64) *avx2Case {
	needAVX2(t)
	return &avx2Case{t: t, rng: rand.New(rand.NewPCG(seed, 99)), avx2: &avx2Searcher{}, generic: genericHasher{}.NewSearcher()}
}

// run checks prefix || d digits || suffix on count nonces from a random
// start (or the end of the digit range, now and then) with a target of 0
// to 8 bits.
func (c *avx2Case) run(prefix, suffix []byte, d int, count uint64) {
	tpl := NewTemplate(prefix, suffix)
	l := tpl.Layout(d)
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

func (c *avx2Case) compare(l *Layout, lo, hi uint64, target Target, firstMask uint32) {
	c.t.Helper()
	want := searchAll(c.t, c.generic, l, lo, hi, target)
	got := avx2SearchAll(c.t, c.avx2, l, lo, hi, target, firstMask)
	if !equal(got, want) {
		c.t.Fatalf("message %d bytes, nonce at %d (tail offset %d, %d nonce blocks of %d), %d digits, [%d, %d) %v: got %v, want %v",
			l.MsgLen, l.NonceOff, l.TailOff, l.NonceBlocks, len(l.Tail)/64, l.Digits, lo, hi, target, got, want)
	}
	c.checked += int(hi - lo)
}

// TestAVX2Offsets covers every nonce length 1..20 at every offset of the
// first digit in its 64-byte block (so every way the digits cross into the
// next block), after 0, 1 or 2 whole prefix blocks, with suffixes that put
// the padding in the nonce block, the next one or several blocks later.
func TestAVX2Offsets(t *testing.T) {
	c := newAVX2Case(t, 1)
	for d := 1; d <= MaxDigits; d++ {
		for off := 0; off < 64; off++ {
			for skip := 0; skip < 3; skip++ {
				prefix := randBytes(c.rng, 64*skip+off)
				suffix := randBytes(c.rng, (7*off+13*d+50*skip)%200)
				c.run(prefix, suffix, d, uint64(1+c.rng.IntN(40)))
			}
		}
	}
	t.Logf("%d nonces compared", c.checked)
}

// TestAVX2Lengths covers every message length 1..2000 bytes: every nonce
// length that fits for messages up to 300 bytes, three nonce lengths
// (cycling through 1..20) for longer ones, with the nonce at an offset that
// varies with both lengths.
func TestAVX2Lengths(t *testing.T) {
	c := newAVX2Case(t, 2)
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
			count := uint64(1 + c.rng.IntN(48))
			if n > 500 {
				count = uint64(1 + c.rng.IntN(20))
			}
			c.run(randBytes(c.rng, p), randBytes(c.rng, n-d-p), d, count)
		}
	}
	t.Logf("%d nonces compared", c.checked)
}

// TestAVX2PartialPasses searches ranges of 1..17 nonces, from starts with
// every last digit, up to the ends of digit ranges and of the nonce space, with
// every nonce a solution (0 bits) and with some.
func TestAVX2PartialPasses(t *testing.T) {
	c := newAVX2Case(t, 3)
	zero, _ := TargetBits(0)
	for _, tc := range []struct{ prefix, suffix, d int }{
		{22, 200, 6}, {60, 3, 7}, {0, 0, 1}, {61, 70, 20}, {100, 400, 12}, {63, 0, 2},
	} {
		tpl := NewTemplate(randBytes(c.rng, tc.prefix), randBytes(c.rng, tc.suffix))
		l := tpl.Layout(tc.d)
		lo, hi := DigitRange(tc.d)
		for count := uint64(1); count <= 17; count++ {
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
	tpl := NewTemplate([]byte("x"), nil)
	for count := uint64(1); count <= 17; count++ {
		c.compare(tpl.Layout(20), math.MaxUint64-count, math.MaxUint64, zero, 0)
	}
}

// TestAVX2WeakMask makes the assembly report every lane (first-word mask 0)
// so that the Go side's full target check, and resuming the assembly after
// a pass with no real solution, run on every pass.
func TestAVX2WeakMask(t *testing.T) {
	c := newAVX2Case(t, 4)
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

// TestAVX2States checks every word of every lane's digest, as the assembly
// leaves them for the Go side, over several passes of one call.
func TestAVX2States(t *testing.T) {
	needAVX2(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 50; i++ {
		prefix := randBytes(rng, rng.IntN(200))
		suffix := randBytes(rng, rng.IntN(200))
		d := 2 + rng.IntN(MaxDigits-1)
		l := NewTemplate(prefix, suffix).Layout(d)
		lo, hi := DigitRange(d)
		n := lo + rng.Uint64N(hi-lo-40)
		s := &avx2Searcher{}
		s.setLayout(l)
		s.hdr(avx2HdrMask, 0) // every lane passes
		s.setLanes(l, n)
		for pass := 0; pass < 4; pass++ {
			done, lanes := avx2Search(&s.arena[0], 3, 0x7f)
			if done != 1 || lanes != 0xff {
				t.Fatalf("pass %d: done %d lanes %#x, want 1 0xff", pass, done, lanes)
			}
			for lane := 0; lane < 8; lane++ {
				var h [8]uint32
				for k := range h {
					h[k] = s.arena[avx2Vec(avx2ArenaSave+32*k)+lane]
				}
				msg := message(prefix, suffix, n)
				if got, want := stateDigest(&h), Sum(msg); got != want {
					t.Fatalf("%q: lane %d digest %x, want %x", msg, lane, got, want)
				}
				n++
			}
		}
		done, lanes := avx2Search(&s.arena[0], 1, 0x7f)
		if done != 1 || lanes != 0x7f {
			t.Fatalf("last pass: done %d lanes %#x, want 1 0x7f", done, lanes)
		}
	}
}

func TestAVX2Unsupported(t *testing.T) {
	saved := Features.AVX2
	defer func() { Features.AVX2 = saved }()
	Features.AVX2 = false
	if _, err := Lookup("avx2"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Lookup(avx2) without AVX2: %v, want %v", err, ErrUnsupported)
	}
	for _, h := range Available() {
		if h.Name() == "avx2" {
			t.Fatal("avx2 available without AVX2")
		}
	}
}
