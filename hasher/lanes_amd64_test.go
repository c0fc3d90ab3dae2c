//go:build amd64 && gc && !purego && !noasm

package hasher

import (
	"math"
	"math/rand/v2"
	"testing"
)

// laneCase compares every solution of a multi-lane assembly kernel (avx2,
// avx512) in a range with the generic kernel's, with the assembly's
// first-word test given apart so that tests can make it weaker than the
// target.
type laneCase struct {
	t       *testing.T
	rng     *rand.Rand
	lanes   uint64
	search  func(l *Layout, lo, hi uint64, target Target, firstMask uint32) (uint64, bool, uint64)
	generic Searcher
	checked int // nonces compared
}

// searchAll finds every solution in [lo, hi) by restarting after each one,
// checking that hashes counts at most the passes up to and including the
// solution's.
func (c *laneCase) searchAll(l *Layout, lo, hi uint64, target Target, firstMask uint32) []uint64 {
	c.t.Helper()
	return everySolution(c.t, lo, hi, func(lo, hi uint64) (uint64, bool, uint64) {
		return c.search(l, lo, hi, target, firstMask)
	}, func(lo, hi, n uint64) (least, most uint64) {
		return n - lo + 1, min(hi-lo, (n-lo)/c.lanes*c.lanes+c.lanes)
	})
}

func (c *laneCase) compare(l *Layout, lo, hi uint64, target Target, firstMask uint32) {
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
func (c *laneCase) run(prefix, suffix []byte, d int, count uint64) {
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

// checkOffsets covers every nonce length 1..20 at every offset of the
// first digit in its 64-byte block (so every way the digits cross into the
// next block), after 0, 1 or 2 whole prefix blocks, with suffixes that put
// the padding in the nonce block, the next one or several blocks later;
// ranges of 1 to 5 passes.
func (c *laneCase) checkOffsets() {
	for d := 1; d <= MaxDigits; d++ {
		for off := 0; off < 64; off++ {
			for skip := 0; skip < 3; skip++ {
				prefix := randBytes(c.rng, 64*skip+off)
				suffix := randBytes(c.rng, (7*off+13*d+50*skip)%200)
				c.run(prefix, suffix, d, uint64(1+c.rng.IntN(5*int(c.lanes))))
			}
		}
	}
	c.t.Logf("%d nonces compared", c.checked)
}

// checkLengths covers every message length 1..2000 bytes (600 with
// -short): every nonce length that fits for messages up to 300 bytes, three
// nonce lengths (cycling through 1..20) for longer ones, with the nonce at
// an offset that varies with both lengths; ranges of up to short nonces,
// or long ones for messages up to 500 bytes.
func (c *laneCase) checkLengths(long, short int) {
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
			count := uint64(1 + c.rng.IntN(long))
			if n > 500 {
				count = uint64(1 + c.rng.IntN(short))
			}
			c.run(randBytes(c.rng, p), randBytes(c.rng, n-d-p), d, count)
		}
	}
	c.t.Logf("%d nonces compared", c.checked)
}

// checkPartialPasses searches ranges of 1 to two passes and one nonce,
// from starts with every last digit, up to the ends of digit ranges and of
// the nonce space, with every nonce a solution (0 bits) and with some.
func (c *laneCase) checkPartialPasses() {
	zero, _ := TargetBits(0)
	for _, tc := range []struct{ prefix, suffix, d int }{
		{22, 200, 6}, {60, 3, 7}, {0, 0, 1}, {61, 70, 20}, {100, 400, 12}, {63, 0, 2}, {5, 9, 3},
	} {
		l := NewTemplate(randBytes(c.rng, tc.prefix), randBytes(c.rng, tc.suffix)).Layout(tc.d)
		lo, hi := DigitRange(tc.d)
		for count := uint64(1); count <= 2*c.lanes+1; count++ {
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
	for count := uint64(1); count <= 2*c.lanes+1; count++ {
		c.compare(l, math.MaxUint64-count, math.MaxUint64, zero, 0)
	}
}

// checkWeakMask makes the assembly report every lane (first-word mask 0)
// so that the Go side's full target check, and resuming the assembly after
// a pass with no real solution, run on every pass.
func (c *laneCase) checkWeakMask() {
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

// checkLaneStates checks every word of every lane's digest, as the
// assembly of s leaves them for the Go side, over several passes of one
// call, on nonces of at least minDigits digits (enough for five passes).
func checkLaneStates(t *testing.T, s *simdSearcher, minDigits int) {
	rng := rand.New(rand.NewPCG(5, 6))
	L := uint64(s.lanes)
	all := uint64(1)<<L - 1
	for i := 0; i < 50; i++ {
		prefix := randBytes(rng, rng.IntN(200))
		suffix := randBytes(rng, rng.IntN(200))
		d := minDigits + rng.IntN(MaxDigits-minDigits+1)
		l := NewTemplate(prefix, suffix).Layout(d)
		lo, hi := DigitRange(d)
		n := lo + rng.Uint64N(hi-lo-5*L)
		s.setLayout(l)
		s.hdr(simdHdrMask, 0) // every lane passes
		s.setLanes(l, n)
		for pass := 0; pass < 4; pass++ {
			done, lanes := s.asm(&s.arena[0], 3, all>>1)
			if done != 1 || lanes != all {
				t.Fatalf("pass %d: done %d lanes %#x, want 1 %#x", pass, done, lanes, all)
			}
			for lane := 0; lane < s.lanes; lane++ {
				var h [8]uint32
				for k := range h {
					h[k] = s.lane(s.off.save+s.vec*k, lane)
				}
				msg := message(prefix, suffix, n)
				if got, want := stateDigest(&h), Sum(msg); got != want {
					t.Fatalf("%q: lane %d digest %x, want %x", msg, lane, got, want)
				}
				n++
			}
		}
		done, lanes := s.asm(&s.arena[0], 1, all>>1)
		if done != 1 || lanes != all>>1 {
			t.Fatalf("last pass: done %d lanes %#x, want 1 %#x", done, lanes, all>>1)
		}
	}
}
