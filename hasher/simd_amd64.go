//go:build amd64 && gc && !purego && !noasm

package hasher

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// The Go side shared by the SIMD-lane kernels, avx2 (avx2_amd64.go) and
// avx512 (avx512_amd64.go): one nonce per 32-bit lane of a vector, 8 or
// 16 lanes. Both kernels work on an arena of the same layout, in vectors
// of their width, which simdSearcher fills once per layout; it then enters
// the assembly once per chunk of passes, plus once per pass in which some
// lane's first digest word passes the mask.

// The arena's layout is the generator's (_asm/internal/simd), which
// writes it to simd_layout_amd64.go: the header's and the midstate's
// offsets, and the offsets of the parts after them for each vector size
// (simdArena).

// simdArena holds the byte offsets of the arena's parts after the
// midstate for vectors of one size.
type simdArena struct {
	start int // 8 vectors: the state after rounds 0..j0-1
	save  int // 8 vectors: the state after the last block
	digit int // per digit, last first: word vector offset, shift
	w0    int // 64 vectors: schedule of nonce block 0
	w1    int // 64 vectors: schedule of nonce block 1
	wk    int // 64 uint32s per constant block: W[t]+K[t]
}

func newSIMDArena(vec int) simdArena {
	if vec == 64 {
		return simdArena{simdArena64Start, simdArena64Save, simdArena64Digit, simdArena64W0, simdArena64W1, simdArena64WK}
	}
	return simdArena{simdArena32Start, simdArena32Save, simdArena32Digit, simdArena32W0, simdArena32W1, simdArena32WK}
}

// simdChunkBlocks bounds the work of one assembly call, in block
// compressions of all lanes (about 0.3 µs each), so that a call returns
// within a fraction of a millisecond: the runtime cannot preempt assembly,
// and a long call would hold up a garbage collection's stop-the-world.
const simdChunkBlocks = 1024

// simdSearcher is one worker's state: the arena and the layout it holds.
type simdSearcher struct {
	lanes  int // 32-bit lanes of a vector: nonces per pass
	vec    int // bytes per vector, 4*lanes
	off    simdArena
	asm    func(arena *uint32, passes uint64, lastMask uint64) (done uint64, lanes uint64)
	layout *Layout
	mem    []uint32 // backing store of arena
	arena  []uint32 // vector-aligned view of mem
	chunk  uint64   // passes per assembly call
	j0, j1 int      // first and last message word (of the tail) holding digits
}

// newSIMDSearcher returns the searcher of a kernel with lanes lanes whose
// assembly is asm (avx2Search or avx512Search).
func newSIMDSearcher(lanes int, asm func(*uint32, uint64, uint64) (uint64, uint64)) *simdSearcher {
	return &simdSearcher{lanes: lanes, vec: 4 * lanes, off: newSIMDArena(4 * lanes), asm: asm}
}

// wordOff returns the arena byte offset of the vector of tail message word
// j, which lies in one of the nonce blocks.
func (s *simdSearcher) wordOff(j int) int {
	if j < 16 {
		return s.off.w0 + s.vec*j
	}
	return s.off.w1 + s.vec*(j-16)
}

func (s *simdSearcher) hdr(off int, v uint64) {
	s.arena[off/4] = uint32(v)
	s.arena[off/4+1] = uint32(v >> 32)
}

func (s *simdSearcher) broadcast(off int, v uint32) {
	p := s.arena[off/4 : off/4+s.lanes]
	for i := range p {
		p[i] = v
	}
}

// lane returns lane i of the vector at byte offset off.
func (s *simdSearcher) lane(off, i int) uint32 { return s.arena[off/4+i] }

// setLayout fills the arena with everything about l that is the same for
// every nonce. It is the only place the searcher allocates.
func (s *simdSearcher) setLayout(l *Layout) {
	nb := l.NonceBlocks
	nt := len(l.Tail) / 64
	nc := nt - nb
	size := s.off.wk/4 + 64*nc
	if cap(s.mem) < size+s.lanes {
		s.mem = make([]uint32, size+s.lanes)
	}
	mem := s.mem[:cap(s.mem)]
	// Align to a vector: the allocator gives at least 8-byte alignment.
	skip := int((uintptr(s.vec) - uintptr(unsafe.Pointer(&mem[0]))%uintptr(s.vec)) % uintptr(s.vec) / 4)
	s.arena = mem[skip : skip+size]
	clear(s.arena[:s.off.wk/4])

	s.j0 = l.TailOff / 4
	s.j1 = (l.TailOff + l.Digits - 1) / 4
	s.hdr(simdHdrNonceBlocks, uint64(nb))
	s.hdr(simdHdrConstBlocks, uint64(nc))
	s.hdr(simdHdrWIdx0, uint64((s.j0&^7)*s.vec))
	s.hdr(simdHdrRot0, uint64(s.j0&7))
	s.hdr(simdHdrDigits, uint64(l.Digits))
	s.hdr(simdHdrKIdx0, uint64(s.j0&^7)*4)

	// The nonce blocks' message words, every lane the same for now: the
	// digit words are set per search (setLanes).
	for j := 0; j < 16*nb; j++ {
		s.broadcast(s.wordOff(j), binary.BigEndian.Uint32(l.Tail[4*j:]))
	}
	// The midstate, and the state after the rounds before word j0.
	v := startState(l, s.j0)
	for k := 0; k < 8; k++ {
		s.broadcast(simdArenaMid+s.vec*k, l.Mid[k])
		s.broadcast(s.off.start+s.vec*k, v[k])
	}
	// The digit table, last digit first.
	for p := l.Digits - 1; p >= 0; p-- {
		off := l.TailOff + p
		e := s.off.digit/4 + 2*(l.Digits-1-p)
		s.arena[e] = uint32(s.wordOff(off / 4))
		s.arena[e+1] = uint32(8 * (3 - off%4))
	}
	// W[t]+K[t] of the constant blocks.
	for b := 0; b < nc; b++ {
		scheduleWK((*[64]uint32)(s.arena[s.off.wk/4+64*b:]), l.Tail[64*(nb+b):])
	}
	s.chunk = uint64(max(1, simdChunkBlocks/nt))
	s.layout = l
}

// setLanes writes nonces base, base+1, ..., base+lanes-1 as ASCII into the
// lanes of the digit words. Lanes past the end of the digit range hold
// garbage that the caller masks off.
func (s *simdSearcher) setLanes(l *Layout, base uint64) {
	var win [24]byte // tail words j0..j1
	n := s.j1 - s.j0 + 1
	copy(win[:], l.Tail[4*s.j0:4*(s.j1+1)])
	d := win[l.TailOff-4*s.j0 : l.TailOff-4*s.j0+l.Digits]
	PutDigits(d, base)
	for lane := 0; lane < s.lanes; lane++ {
		if lane > 0 {
			IncDigits(d)
		}
		for k := 0; k < n; k++ {
			s.arena[s.wordOff(s.j0+k)/4+lane] = binary.BigEndian.Uint32(win[4*k:])
		}
	}
}

func (s *simdSearcher) Search(l *Layout, lo, hi uint64, target Target) (uint64, bool, uint64) {
	return s.search(l, lo, hi, target, target.FirstMask())
}

// search is Search with the assembly's first-word test given apart: tests
// pass a weaker mask than the target's to exercise the Go-side check.
func (s *simdSearcher) search(l *Layout, lo, hi uint64, target Target, firstMask uint32) (uint64, bool, uint64) {
	if lo >= hi {
		return hi, false, 0
	}
	if s.layout != l {
		s.setLayout(l)
	}
	L := uint64(s.lanes)
	s.hdr(simdHdrMask, uint64(firstMask))
	s.setLanes(l, lo)
	total := hi - lo
	passes := (total-1)/L + 1
	lastMask := uint64(1)<<(total-L*(passes-1)) - 1
	for pass := uint64(0); pass < passes; {
		n := min(passes-pass, s.chunk)
		mask := uint64(1)<<L - 1
		if pass+n == passes {
			mask = lastMask
		}
		done, lanes := s.asm(&s.arena[0], n, mask)
		pass += done
		for ; lanes != 0; lanes &= lanes - 1 {
			i := bits.TrailingZeros64(lanes)
			var h [8]uint32
			for k := range h {
				h[k] = s.lane(s.off.save+s.vec*k, i)
			}
			if target.MeetsState(&h) {
				return lo + L*(pass-1) + uint64(i), true, min(L*pass, total)
			}
		}
	}
	return hi, false, total
}
