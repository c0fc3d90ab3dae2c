package hasher

import (
	"encoding/binary"
	"math/bits"
)

// roundWK runs one SHA-256 round on the state h with wk = W[t]+K[t]: what
// a kernel's Go side uses to precompute the rounds every nonce shares.
func roundWK(h *[8]uint32, wk uint32) {
	a, b, c, d, e, f, g, hh := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
	t1 := hh + (bits.RotateLeft32(e, -6) ^ bits.RotateLeft32(e, -11) ^ bits.RotateLeft32(e, -25)) +
		((e & f) ^ (^e & g)) + wk
	t2 := (bits.RotateLeft32(a, -2) ^ bits.RotateLeft32(a, -13) ^ bits.RotateLeft32(a, -22)) +
		((a & b) ^ (a & c) ^ (b & c))
	h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7] = t1+t2, a, b, c, d+t1, e, f, g
}

// scheduleWK writes W[t]+K[t], t = 0..63, of the 64-byte block p: what a
// kernel's Go side precomputes for the blocks that are the same for every
// nonce.
func scheduleWK(wk *[64]uint32, p []byte) {
	var w [64]uint32
	for t := 0; t < 16; t++ {
		w[t] = binary.BigEndian.Uint32(p[4*t:])
	}
	for t := 16; t < 64; t++ {
		s0 := bits.RotateLeft32(w[t-15], -7) ^ bits.RotateLeft32(w[t-15], -18) ^ (w[t-15] >> 3)
		s1 := bits.RotateLeft32(w[t-2], -17) ^ bits.RotateLeft32(w[t-2], -19) ^ (w[t-2] >> 10)
		w[t] = w[t-16] + s0 + w[t-7] + s1
	}
	for t := range wk {
		wk[t] = w[t] + k256[t]
	}
}

// startState returns the state after rounds 0..n-1 (n <= 16) of l's first
// tail block from the midstate: the rounds before the first nonce digit's
// word, which are the same for every nonce, so a kernel's Go side runs
// them once per layout.
func startState(l *Layout, n int) [8]uint32 {
	h := l.Mid
	for t := 0; t < n; t++ {
		roundWK(&h, binary.BigEndian.Uint32(l.Tail[4*t:])+k256[t])
	}
	return h
}
