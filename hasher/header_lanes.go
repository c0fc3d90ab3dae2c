//go:build (amd64 || arm64) && gc && !purego && !noasm

package hasher

import "math/bits"

// The driver shared by the multi-lane header kernels of amd64
// (header_amd64.go) and arm64 (header_arm64.go).

// headerChunk bounds one assembly call to about this many nonces (a few
// microseconds of work at most), so that it returns well within the time a
// garbage collection's stop-the-world may wait.
const headerChunk = 1024

// searchLanes drives a multi-lane header kernel over [lo, hi): mine(base,
// passes, top) hashes passes passes of L nonces from base and returns the
// passes done and the lanes of the last one whose top word passed.
func searchLanes(j *HeaderJob, lo, hi uint64, target HeaderTarget, L uint64,
	mine func(nonce uint32, passes int, top uint32) (int, uint32)) (uint64, bool, uint64) {
	top := target.Top()
	chunk := max(1, headerChunk/L)
	for base := lo; base < hi; {
		passes := min((hi-base+L-1)/L, chunk)
		done, lanes := mine(uint32(base), int(passes), top)
		pass := base + uint64(done-1)*L
		for ; lanes != 0; lanes &= lanes - 1 {
			n := pass + uint64(bits.TrailingZeros32(lanes))
			if n < hi && confirmHeader(j, uint32(n), target) {
				return n, true, min(pass+L, hi) - lo
			}
		}
		base = pass + L
	}
	return hi, false, hi - lo
}
