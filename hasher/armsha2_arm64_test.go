//go:build arm64 && gc && !purego && !noasm

package hasher

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

var armNames = []string{"armsha2", "armsha2x1", "armsha2x2", "armsha2x4"}

// armKernels returns the registered armsha2 kernels, skipping the test on
// a CPU without the SHA2 instructions.
func armKernels(t *testing.T) []Hasher {
	t.Helper()
	if !Features.ARMSHA {
		t.Skip("CPU has no ARMv8 SHA2 instructions")
	}
	var hs []Hasher
	for _, name := range armNames {
		h, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

// TestARMSHA2EveryLength hashes templates of every total message length
// 1..2000 bytes (nonce included) with every armsha2 kernel and compares
// all solutions with the generic kernel's: the nonce and the padding at
// every offset in a block, 0 to 32 constant blocks, nonces that straddle
// two blocks, and every group of four rounds the kernels enter at. Every
// nonce length 1..20 (up to n) is tried with every length n; -short (the
// run under qemu) takes one nonce length in five and lengths up to 1200.
// Ranges hold 1 to 13 nonces from either end of the digit range or a
// random place; targets of 0 to 4 bits make most ranges have solutions.
func TestARMSHA2EveryLength(t *testing.T) {
	maxLen := 2000
	if testing.Short() {
		maxLen = 1200
	}
	checkEveryLength(t, armKernels(t), rand.New(rand.NewPCG(21, 22)), maxLen,
		func(n, k int) bool { return !testing.Short() || k%5 == n%5 })
}

// TestARMSHA2LongRanges searches long ranges, where the assembly runs many
// passes per call and the ASCII nonces carry across many digits, with
// targets that make solutions rare, and a mask weaker than the target so
// that the assembly often stops at passes that do not meet it. Every other
// range is searched in small assembly calls (interleavedChunkBlocks = 64).
func TestARMSHA2LongRanges(t *testing.T) {
	defer func(n int) { interleavedChunkBlocks = n }(interleavedChunkBlocks)
	r := longRanges{iters: 24, minCount: 300, spread: 1500, endEvery: 3}
	if testing.Short() {
		r.iters = 6
	}
	checkLongRanges(t, armKernels(t), rand.New(rand.NewPCG(23, 24)), r, func(n int) { interleavedChunkBlocks = n })
}

// TestARMSHA2Unsupported switches the SHA2 feature off: the kernels are
// refused with ErrUnsupported and a message that says what they need, and
// Auto and Available leave them out.
func TestARMSHA2Unsupported(t *testing.T) {
	defer Disable("armsha")()
	for _, name := range armNames {
		h, err := Lookup(name)
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Lookup(%q) without SHA2 = %v, %v; want ErrUnsupported", name, h, err)
		}
		if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "ARM-SHA2") {
			t.Errorf("Lookup(%q) error %q does not name the kernel and ARM-SHA2", name, err)
		}
	}
	if strings.HasPrefix(Auto().Name(), "armsha2") {
		t.Errorf("Auto() = %q without SHA2", Auto().Name())
	}
	for _, h := range Available() {
		if strings.HasPrefix(h.Name(), "armsha2") {
			t.Errorf("Available() lists %q without SHA2", h.Name())
		}
	}
}

// TestARMSHA2Auto checks that Auto picks armsha2 where the CPU has the
// SHA2 instructions.
func TestARMSHA2Auto(t *testing.T) {
	if hs := armKernels(t); hs[0].Lanes() != armBest {
		t.Fatalf("armsha2 has %d lanes, want %d", hs[0].Lanes(), armBest)
	}
	if got := Auto().Name(); got != "armsha2" {
		t.Errorf("Auto() = %q, want armsha2", got)
	}
}

// TestARMSHA2HeaderLanes checks which header kernel each armsha2 name runs,
// so that the header tests, which go through every name, reach all four:
// armsha2HeaderR1, R2 and R3 (for "armsha2") and armsha2Header4.
func TestARMSHA2HeaderLanes(t *testing.T) {
	want := map[string]int{"armsha2": armHdrBest, "armsha2x1": 1, "armsha2x2": 2, "armsha2x4": 4}
	for _, h := range armKernels(t) {
		hh, err := HeaderKernel(h)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := hh.NewHeaderSearcher().(*armHeaderSearcher)
		if !ok || s.lanes != want[h.Name()] || s.lanes > h.Lanes() {
			t.Errorf("%s: header searcher %#v, want %d lanes", h.Name(), s, want[h.Name()])
		}
	}
}
