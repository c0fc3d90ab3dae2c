//go:build amd64 && gc && !purego && !noasm

package hasher

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func needAVX2(t testing.TB) {
	t.Helper()
	if !Features.AVX2 {
		t.Skip("CPU lacks AVX2")
	}
}

func newAVX2Case(t *testing.T, seed uint64) *laneCase {
	needAVX2(t)
	s := &avx2Searcher{}
	return &laneCase{t: t, rng: rand.New(rand.NewPCG(seed, 99)), lanes: 8, search: s.search, generic: genericHasher{}.NewSearcher()}
}

// TestAVX2Offsets: laneCase.checkOffsets for avx2.
func TestAVX2Offsets(t *testing.T) { newAVX2Case(t, 1).checkOffsets() }

// TestAVX2Lengths: laneCase.checkLengths for avx2.
func TestAVX2Lengths(t *testing.T) { newAVX2Case(t, 2).checkLengths(48, 20) }

// TestAVX2PartialPasses: laneCase.checkPartialPasses for avx2, ranges of
// 1..17 nonces.
func TestAVX2PartialPasses(t *testing.T) { newAVX2Case(t, 3).checkPartialPasses() }

// TestAVX2WeakMask: laneCase.checkWeakMask for avx2.
func TestAVX2WeakMask(t *testing.T) { newAVX2Case(t, 4).checkWeakMask() }

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
