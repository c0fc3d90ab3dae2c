package hasher

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// MaxBits is the largest difficulty in leading zero bits: the whole digest.
const MaxBits = 256

// MaxHexZeros is the largest difficulty in leading hex zeros.
const MaxHexZeros = 64

// Target is a proof-of-work target: the number of leading zero bits a
// SHA-256 digest must have. The seed's difficulty d (the hex digest starts
// with d '0' characters) is the target of 4*d bits.
//
// A Target compares raw digest words, never hex text or big integers: words
// [0, full) must be zero and word full must have no bit set under mask.
type Target struct {
	bits int
	full int    // number of whole 32-bit words that must be zero
	mask uint32 // bits of word full that must be zero (0 when full == 8)
}

// TargetBits returns the target of n leading zero bits, 0 <= n <= 256.
func TargetBits(n int) (Target, error) {
	if n < 0 || n > MaxBits {
		return Target{}, fmt.Errorf("hasher: difficulty of %d bits is out of range [0, %d]", n, MaxBits)
	}
	t := Target{bits: n, full: n / 32}
	if r := n % 32; r != 0 {
		t.mask = ^uint32(0) << (32 - r)
	}
	return t, nil
}

// TargetHexZeros returns the target of the seed's difficulty d: the hex
// digest starts with d '0' characters, 0 <= d <= 64.
func TargetHexZeros(d int) (Target, error) {
	if d < 0 || d > MaxHexZeros {
		return Target{}, fmt.Errorf("hasher: difficulty of %d hex zeros is out of range [0, %d]", d, MaxHexZeros)
	}
	return TargetBits(4 * d)
}

// Bits returns the number of leading zero bits the target asks for.
func (t Target) Bits() int { return t.bits }

// FirstMask returns the bits of the first state word that must be zero. A
// kernel rejects most digests with one test, h0&FirstMask() != 0, before it
// calls MeetsState.
func (t Target) FirstMask() uint32 {
	if t.full > 0 {
		return ^uint32(0)
	}
	return t.mask
}

// MeetsState reports whether a final SHA-256 state (the digest as eight
// big-endian words) meets the target.
func (t Target) MeetsState(h *[8]uint32) bool {
	for i := 0; i < t.full; i++ {
		if h[i] != 0 {
			return false
		}
	}
	return t.full == 8 || h[t.full]&t.mask == 0
}

// MeetsDigest reports whether a 32-byte digest meets the target.
func (t Target) MeetsDigest(d *[32]byte) bool {
	var h [8]uint32
	for i := range h {
		h[i] = binary.BigEndian.Uint32(d[4*i:])
	}
	return t.MeetsState(&h)
}

// LeadingZeroBits returns the number of leading zero bits of a digest.
func LeadingZeroBits(d *[32]byte) int {
	n := 0
	for _, b := range d {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// String returns the target as "N bits", or "N hex zeros" when N is a
// multiple of four.
func (t Target) String() string {
	if t.bits%4 == 0 {
		return fmt.Sprintf("%d hex zeros", t.bits/4)
	}
	return fmt.Sprintf("%d bits", t.bits)
}
