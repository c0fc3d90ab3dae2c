//go:build arm64 && gc && !purego && !noasm

package hasher

// The armsha2 header mode: armsha2Header<L> in armsha2_arm64.s, generated
// by _asm/armsha2 (header.go there says what a pass does and what it
// skips). Each armsha2 kernel mines headers with its own lane count: 1, 2
// or 4 nonces per pass, 4 for "armsha2". The Go side prepares a per-job
// context once, enters the assembly once per chunk of passes
// (searchLanes) and finishes the candidates it reports with
// HeaderJob.Sum and the whole target.

// The header context, in uint32s; keep in step with hctx* in
// _asm/armsha2/header.go.
const (
	armHdrMid  = 0  // midstate: ABCD, EFGH
	armHdrW    = 8  // W[0..15] of the first hash's block 2, W[3] = 0
	armHdrWK   = 24 // W[t]+K[t], t = 4..15
	armHdrSU0  = 36 // SHA256SU0 results of groups 5, 6, 7
	armHdrSize = 48
	armHdrLane = 128 // scratch uint32s per lane
)

// NewHeaderSearcher returns the armsha2 header mode with h's lane count.
func (h armHasher) NewHeaderSearcher() HeaderSearcher {
	return &armHeaderSearcher{lanes: h.lanes, scratch: make([]uint32, armHdrLane*h.lanes)}
}

type armHeaderSearcher struct {
	lanes   int
	job     *HeaderJob
	ctx     [armHdrSize]uint32
	scratch []uint32
}

func (s *armHeaderSearcher) setJob(j *HeaderJob) {
	s.job = j
	copy(s.ctx[armHdrMid:], j.Mid[:])
	copy(s.ctx[armHdrW:], j.W[:])
	for t := 4; t < 16; t++ {
		s.ctx[armHdrWK+t-4] = j.W[t] + k256[t]
	}
	// SHA256SU0 makes W[t-16] + sigma0(W[t-15]) for the four words of a
	// group; for groups 5..7 (t = 20..31) these read W[4..16], none of
	// which depends on the nonce (W[16] is j.Sched[16]).
	var w [17]uint32
	copy(w[:], j.W[:])
	w[16] = j.Sched[16]
	for t := 20; t < 32; t++ {
		s.ctx[armHdrSU0+t-20] = w[t-16] + sigma0(w[t-15])
	}
}

func (s *armHeaderSearcher) mine(nonce uint32, passes int, top uint32) (int, uint32) {
	switch s.lanes {
	case 1:
		return armsha2Header1(&s.ctx, &s.scratch[0], nonce, passes, top)
	case 2:
		return armsha2Header2(&s.ctx, &s.scratch[0], nonce, passes, top)
	default:
		return armsha2Header4(&s.ctx, &s.scratch[0], nonce, passes, top)
	}
}

func (s *armHeaderSearcher) SearchHeader(j *HeaderJob, lo, hi uint64, target HeaderTarget) (uint64, bool, uint64) {
	if s.job != j {
		s.setJob(j)
	}
	return searchLanes(j, lo, hi, target, uint64(s.lanes), s.mine)
}
