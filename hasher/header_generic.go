package hasher

import "math/bits"

// The pure Go header kernel does per nonce only what depends on it:
//
//   - the first 64 bytes of the header are folded into HeaderJob.Mid once;
//   - rounds 0..2 of the second block read only W[0..2], so they start from
//     HeaderJob.Pre;
//   - of the schedule, only the words that depend on the nonce are
//     computed, and only from their nonce-dependent terms, the others
//     coming from HeaderJob.Sched (W[16] and W[17] are constant);
//   - the second hash stops after round 60, which gives e61, the word that
//     becomes the last digest word: h7 = e61 + H7. Only when h7, byte
//     swapped, is at most the target's top word is the hash finished
//     (HeaderJob.Sum) and compared whole.

// Words of the second hash's block that are the same for every header:
// the 0x80 pad byte after the 32-byte digest, zeros, the length in bits.
const (
	hash2Pad = 0x80000000
	hash2Len = 256
)

type genericHeaderSearcher struct{}

func (genericHasher) NewHeaderSearcher() HeaderSearcher { return genericHeaderSearcher{} }

func (genericHeaderSearcher) SearchHeader(j *HeaderJob, lo, hi uint64, target HeaderTarget) (uint64, bool, uint64) {
	top := target.Top()
	for n := lo; n < hi; n++ {
		if h7 := headerLastWord(j, uint32(n)); bits.ReverseBytes32(h7) <= top && confirmHeader(j, uint32(n), target) {
			return n, true, n - lo + 1
		}
	}
	return hi, false, hi - lo
}

// headerLastWord returns the last state word of the sha256d of j's header
// with nonce n, skipping what the kernels skip.
//
//go:norace
func headerLastWord(j *HeaderJob, n uint32) uint32 {
	var w [64]uint32
	copy(w[:16], j.W[:])
	w[3] = bits.ReverseBytes32(n)
	for t := 16; t < 64; t++ {
		if !headerVar[t] {
			w[t] = j.Sched[t]
			continue
		}
		v := j.Sched[t]
		if headerVar[t-2] {
			v += sigma1(w[t-2])
		}
		if headerVar[t-7] {
			v += w[t-7]
		}
		if headerVar[t-15] {
			v += sigma0(w[t-15])
		}
		if headerVar[t-16] {
			v += w[t-16]
		}
		w[t] = v
	}
	a, b, c, d, e, f, g, h := j.Pre[0], j.Pre[1], j.Pre[2], j.Pre[3], j.Pre[4], j.Pre[5], j.Pre[6], j.Pre[7]
	for t := 3; t < 64; t++ {
		t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
			((e & f) ^ (^e & g)) + k256[t] + w[t]
		t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
			((a & b) ^ (a & c) ^ (b & c))
		h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
	}
	// The second hash: its message is the first hash's state, then fixed
	// padding.
	w[0], w[1], w[2], w[3] = a+j.Mid[0], b+j.Mid[1], c+j.Mid[2], d+j.Mid[3]
	w[4], w[5], w[6], w[7] = e+j.Mid[4], f+j.Mid[5], g+j.Mid[6], h+j.Mid[7]
	w[8] = hash2Pad
	for t := 9; t < 15; t++ {
		w[t] = 0
	}
	w[15] = hash2Len
	for t := 16; t <= 60; t++ {
		w[t] = sigma1(w[t-2]) + w[t-7] + sigma0(w[t-15]) + w[t-16]
	}
	a, b, c, d, e, f, g, h = iv[0], iv[1], iv[2], iv[3], iv[4], iv[5], iv[6], iv[7]
	for t := 0; t <= 60; t++ {
		t1 := h + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
			((e & f) ^ (^e & g)) + k256[t] + w[t]
		t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
			((a & b) ^ (a & c) ^ (b & c))
		h, g, f, e, d, c, b, a = g, f, e, d+t1, c, b, a, t1+t2
	}
	return e + iv[7]
}
