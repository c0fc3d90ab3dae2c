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
	s := newSIMDSearcher(8, avx2Search)
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

// TestAVX2States: checkLaneStates for avx2.
func TestAVX2States(t *testing.T) {
	needAVX2(t)
	checkLaneStates(t, newSIMDSearcher(8, avx2Search), 2)
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
