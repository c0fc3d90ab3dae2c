//go:build (amd64 || arm64) && gc && !purego && !noasm

package hasher

import (
	"strconv"
	"unsafe"
)

// The Go side shared by the interleaved-lane kernels: shani on amd64
// (shani_amd64.go) and armsha2 on arm64 (armsha2_arm64.go). Both hash L
// nonces of one layout per pass, one independent message per lane, with
// the pass loop, the target test on the first state word and the ASCII
// nonce increments in assembly, and both take the same arguments: the
// start states, the lanes' copies of the nonce blocks, a scratch area,
// the constant blocks' W+K. What differs per architecture is in the
// architecture's file: mine (which assembly function runs a lane count)
// and putState/getState (the order the kernel keeps a state in).

// interleavedAbout is the description of an interleaved kernel of lanes
// lanes whose instructions are named by what.
func interleavedAbout(what string, lanes int) string {
	s := what + ": assembly from the midstate, "
	if lanes == 1 {
		return s + "one nonce at a time"
	}
	return s + strconv.Itoa(lanes) + " nonces interleaved per pass"
}

// interleavedHasher is the interleaved kernel of one lane count under one
// name; its header mode is the architecture's (NewHeaderSearcher in
// header_amd64.go and header_arm64.go).
type interleavedHasher struct {
	name  string
	lanes int
}

func (h interleavedHasher) Name() string          { return h.name }
func (h interleavedHasher) Lanes() int            { return h.lanes }
func (h interleavedHasher) NewSearcher() Searcher { return &interleavedSearcher{lanes: h.lanes} }

// interleavedChunkBlocks bounds the work of one assembly call, in block
// compressions (about 20 ns each at 4 lanes of shani), so that a call
// returns within about 0.1 ms: the runtime cannot preempt assembly, and a
// long call would hold up a garbage collection's stop-the-world. Each call
// costs a few hundred nanoseconds more than a pass inside one (writing the
// lanes' digits, and a first pass whose schedules are not hidden under the
// constant blocks), well under 1% at this size. Tests make it smaller.
var interleavedChunkBlocks = 4096

// interleavedSearcher is one worker's state: per-layout constants and the
// lanes' copies of the nonce blocks.
type interleavedSearcher struct {
	lanes  int
	layout *Layout

	st      [16]uint32 // start state after the skipped rounds, then the midstate (putState's order)
	skip    int        // 16-byte groups (four rounds) of the first nonce block before the nonce
	chunk   uint64     // passes per assembly call
	nb      int        // nonce blocks
	digit   int        // offset of the last nonce digit in a lane copy
	mem     []uint32   // one allocation holding wk, scratch and blocks
	blocks  []byte     // lanes copies of the nb nonce blocks, 64*nb bytes each
	wk      []uint32   // W[t]+K[t] of the constant blocks, 64 per block
	scratch []uint32   // the assembly's save area and schedules
}

// wkArg returns the pointer the assembly takes for wk: nil when the layout
// has no constant blocks.
func (s *interleavedSearcher) wkArg() *uint32 {
	if len(s.wk) > 0 {
		return &s.wk[0]
	}
	return nil
}

// setLayout prepares the searcher for l. It is the only place an
// interleavedSearcher allocates, and only when l needs more memory than
// the layouts before it.
func (s *interleavedSearcher) setLayout(l *Layout) {
	s.layout = l
	s.nb = l.NonceBlocks
	s.skip = l.TailOff / 16
	s.digit = l.TailOff + l.Digits - 1

	// The rounds of block 0 before the group holding the first digit are
	// the same for every nonce: run them once.
	start := startState(l, 4*s.skip)
	putState(s.st[0:8], &start)
	putState(s.st[8:16], &l.Mid)

	// One allocation for all three, so that a searcher's first use of a
	// layout costs one (the engine's allocation test counts them).
	stride := 64 * s.nb
	ncb := len(l.Tail)/64 - s.nb
	nwk, nscratch := 64*ncb, 8*s.lanes+64*s.lanes*s.nb
	if n := nwk + nscratch + s.lanes*stride/4; cap(s.mem) < n {
		s.mem = make([]uint32, n)
	} else {
		s.mem = s.mem[:n]
	}
	s.wk = s.mem[:nwk]
	s.scratch = s.mem[nwk : nwk+nscratch]
	s.blocks = unsafe.Slice((*byte)(unsafe.Pointer(&s.mem[nwk+nscratch])), s.lanes*stride)
	for i := 0; i < s.lanes; i++ {
		copy(s.blocks[i*stride:], l.Tail[:stride])
	}
	for b := 0; b < ncb; b++ {
		scheduleWK((*[64]uint32)(s.wk[64*b:]), l.Tail[64*(s.nb+b):])
	}

	s.chunk = uint64(max(1, interleavedChunkBlocks/(s.lanes*len(l.Tail)/64)))
}

// Search hashes [lo, hi) in passes of s.lanes nonces. The full passes run
// in assembly calls of up to s.chunk passes (a call also returns after a
// pass whose first word passed the mask but whose state may not meet the
// target); a last, partial pass gives its unused lanes the nonce hi-1
// again, which can never be reported ahead of the lane that really holds
// it.
func (s *interleavedSearcher) Search(l *Layout, lo, hi uint64, target Target) (uint64, bool, uint64) {
	return s.search(l, lo, hi, target, target.FirstMask())
}

// search is Search with the mask the assembly tests h0 against; any mask
// that target.FirstMask() includes works (tests pass weaker ones to make
// the assembly stop at passes that do not meet the target).
func (s *interleavedSearcher) search(l *Layout, lo, hi uint64, target Target, mask uint32) (uint64, bool, uint64) {
	if hi <= lo {
		return hi, false, 0
	}
	if s.layout != l {
		s.setLayout(l)
	}
	L := uint64(s.lanes)
	for base := lo; base < hi; {
		passes := min((hi-base)/L, s.chunk)
		if passes == 0 {
			passes = 1 // the partial pass
		}
		s.putLanes(base, hi)
		done, found := s.mine(int(passes), mask)
		if !found {
			if hi-base <= passes*L {
				break
			}
			base += passes * L // the full passes are done; the partial one is left
			continue
		}
		// Lane i of the last pass done held nonce pass+i; lanes past hi-1
		// repeated it.
		pass := base + uint64(done-1)*L
		left := hi - pass
		var h [8]uint32
		for i := uint64(0); i < L && i < left; i++ {
			getState(&h, s.scratch[8*i:8*i+8])
			if target.MeetsState(&h) {
				return pass + i, true, pass - lo + min(L, left)
			}
		}
		if left <= L {
			break
		}
		base = pass + L
	}
	return hi, false, hi - lo
}

// putLanes writes nonce min(base+i, hi-1) into lane i.
func (s *interleavedSearcher) putLanes(base, hi uint64) {
	stride := 64 * s.nb
	off := s.digit + 1 - s.layout.Digits
	for i := 0; i < s.lanes; i++ {
		n := min(base+uint64(i), hi-1)
		PutDigits(s.blocks[i*stride+off:i*stride+s.digit+1], n)
	}
}
