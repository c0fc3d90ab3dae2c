//go:build amd64 && gc && !purego && !noasm

package hasher

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// shaniKernels returns the registered SHA-NI kernels, skipping the test on
// a CPU without SHA-NI.
func shaniKernels(t *testing.T) []Hasher {
	t.Helper()
	if !Features.SHANI {
		t.Skip("CPU has no SHA-NI")
	}
	var hs []Hasher
	for _, name := range []string{"shani", "shani1", "shani2", "shani4"} {
		h, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

// TestSHANIEveryLength hashes templates of every total message length
// 1..2000 bytes (nonce included) with every SHA-NI kernel and compares all
// solutions with the generic kernel's. That puts the nonce and the padding
// at every offset in a block, gives 1 to 32 constant blocks after the nonce
// (and none), and nonces that straddle two blocks.
//
// Every nonce length 1..20 (up to n) is tried with every message length n,
// about 40000 templates (about 13 s under -race on a loaded 2-core
// machine); -short subsamples to one nonce length in four (d = 1+(n+k)%20
// for k = 0, 5, 10, 15). The prefix/suffix split is random. The
// ranges start at the first nonce of the digit count, end at its last (all
// nines, and for 20 digits the largest searchable nonce), or sit at a
// random place; they hold 1 to 13 nonces (mostly not a multiple of the
// lanes) and the target is 0 to 4 bits, so most ranges have solutions and
// 0 bits makes every lane of a pass succeed.
func TestSHANIEveryLength(t *testing.T) {
	checkEveryLength(t, shaniKernels(t), rand.New(rand.NewPCG(11, 12)), 2000,
		func(n, k int) bool { return !testing.Short() || k%5 == 0 })
}

// TestSHANILongRanges searches long ranges, where the assembly runs many
// passes per call and the ASCII nonces carry across many digits, with
// targets that make solutions rare, and a mask weaker than the target so
// that the assembly often stops at passes that do not meet it. Every other
// range is searched in small assembly calls (interleavedChunkBlocks = 64).
func TestSHANILongRanges(t *testing.T) {
	defer func(n int) { interleavedChunkBlocks = n }(interleavedChunkBlocks)
	r := longRanges{iters: 40, minCount: 500, spread: 3000, endEvery: 4}
	if testing.Short() {
		r.iters = 10
	}
	checkLongRanges(t, shaniKernels(t), rand.New(rand.NewPCG(13, 14)), r, func(n int) { interleavedChunkBlocks = n })
}

// TestSHANIUnsupported checks that without SHA-NI the kernels are refused
// with ErrUnsupported and a message that says what they need, and that Auto
// does not pick them.
func TestSHANIUnsupported(t *testing.T) {
	saved := Features.SHANI
	defer func() { Features.SHANI = saved }()
	Features.SHANI = false
	for _, name := range []string{"shani", "shani1", "shani2", "shani4"} {
		h, err := Lookup(name)
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Lookup(%q) without SHA-NI = %v, %v; want ErrUnsupported", name, h, err)
		}
		if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "SHA-NI") {
			t.Errorf("Lookup(%q) error %q does not name the kernel and SHA-NI", name, err)
		}
	}
	if strings.HasPrefix(Auto().Name(), "shani") {
		t.Errorf("Auto() = %q without SHA-NI", Auto().Name())
	}
	for _, h := range Available() {
		if strings.HasPrefix(h.Name(), "shani") {
			t.Errorf("Available() lists %q without SHA-NI", h.Name())
		}
	}
}

// TestSHANIAuto checks that Auto picks the best SHA-NI kernel where the CPU
// has SHA-NI and nothing ranks higher.
func TestSHANIAuto(t *testing.T) {
	if hs := shaniKernels(t); hs[0].Lanes() != shaniBest {
		t.Fatalf("shani has %d lanes, want %d", hs[0].Lanes(), shaniBest)
	}
	for _, name := range Names() {
		if name == "shani" {
			break
		}
		if kernels[name].supported() {
			return // a faster kernel (another engineer's) runs here
		}
	}
	if got := Auto().Name(); got != "shani" {
		t.Errorf("Auto() = %q, want shani", got)
	}
}
