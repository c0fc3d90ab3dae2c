package main

import (
	"github.com/powchain/powchain/hasher/_asm/sha256k"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// shaniHeaderR2 is a two-lane SHA-NI header kernel that keeps everything
// in registers: each lane's message schedule is a ring of four XMM
// registers expanded with SHA256MSG1/2 one group ahead of the rounds that
// use it, as one-message SHA-NI code does, with the two lanes' instructions
// interleaved. No W+K goes through memory. The work is shaniHeader<L>'s
// (see main.go) less one SHA256RNDS2: the second hash's round 60, which
// makes e61 and so h7, runs in general-purpose registers instead of a
// SHA256RNDS2 that would bring round 61 along. Per nonce: 60 SHA256RNDS2,
// 24 SHA256MSG1 and 24 SHA256MSG2.
//
// Registers: X0 the round's W+K; lane i's state in X1+2i, X2+2i (as in
// shaniHeader); lane i's ring in X5+5i..X8+5i and its temporary X9+5i.
func shaniHeaderR2() {
	TEXT("shaniHeaderR2", NOSPLIT, "func(ctx *[44]uint32, nonce uint32, passes int, top uint32) (done int, lanes uint32)")
	Doc(
		"shaniHeaderR2 is shaniHeader1 with two lanes and the message schedules in",
		"registers; it needs no scratch memory.",
	)
	Pragma("noescape")
	Load(Param("ctx"), shCtx)
	Load(Param("nonce"), shNonce.As32())
	Load(Param("passes"), shPasses)
	Load(Param("top"), shTop.As32())
	XORQ(shDone, shDone)
	ctx := func(off int) Mem { return Mem{Base: shCtx}.Offset(off) }
	ring := func(i, g int) VecPhysical { return xmm(5 + 5*i + g%4) }
	tmp := func(i int) VecPhysical { return xmm(9 + 5*i) }
	const L = 2

	// expand emits group g (>= 4) of lane i's schedule into ring(i, g).
	expand := func(i, g int) []func() {
		w4, w3, w2, w1 := ring(i, g-4), ring(i, g-3), ring(i, g-2), ring(i, g-1)
		t := tmp(i)
		return []func(){
			func() { SHA256MSG1(w3, w4) },
			func() { MOVO(w1, t) },
			func() { PALIGNR(U8(4), w2, t) },
			func() { PADDD(t, w4) },
			func() { SHA256MSG2(w1, w4) },
		}
	}
	// steps emits SHA-256 steps first..last (two rounds each) of both
	// lanes, the W+K of group g made from ring(i, g) + K, and each group's
	// successor expanded while the group's rounds run.
	steps := func(first, last int) {
		for g := first / 2; g <= last/2; g++ {
			var mix []func()
			if g+1 >= 4 && g+1 < 16 {
				for i := 0; i < L; i++ {
					mix = append(mix, expand(i, g+1)...)
				}
			}
			for half := 0; half < 2; half++ {
				step := 2*g + half
				if step < first || step > last {
					continue
				}
				for i := 0; i < L; i++ {
					// X0 is shared by the lanes: each lane makes its own.
					MOVO(ring(i, g), X0)
					PADDD(shK.Offset(16*g), X0)
					if half == 1 {
						PSHUFD(U8(0x0e), X0, X0)
					}
					shaniRnds2(i, step)
					n := (len(mix) + 1) / 2
					if half == 1 || step == last {
						n = len(mix)
					}
					for _, op := range mix[:n] {
						op()
					}
					mix = mix[n:]
				}
			}
			for _, op := range mix {
				op()
			}
		}
	}

	Label("shanir2_pass")
	Comment("The first hash: each lane's block 2 with its nonce in W[3], from the",
		"state after rounds 0..3 with W[3] = 0 plus the nonce in A and E.")
	for i := 0; i < L; i++ {
		MOVOU(ctx(sctxMsg), ring(i, 0))
		LEAL(Mem{Base: shNonce}.Offset(i), shTmp.As32())
		BSWAPL(shTmp.As32())
		PINSRD(U8(3), shTmp.As32(), ring(i, 0))
		for g := 1; g < 4; g++ {
			MOVOU(ctx(sctxMsg+16*g), ring(i, g))
		}
		shaniStartHash1(i, ctx(sctxPre), shTmp.As32())
	}
	steps(2, 31)
	shaniAddMid(L)
	Comment("The second hash's W[0..7] from the states, W[8..15] constant.")
	for i := 0; i < L; i++ {
		PSHUFD(U8(0x1b), shS0(i), ring(i, 1)) // [A B E F]
		PSHUFD(U8(0xb1), shS1(i), tmp(i))     // [G H C D]
		MOVO(ring(i, 1), ring(i, 0))
		PBLENDW(U8(0xf0), tmp(i), ring(i, 0)) // [A B C D]
		PALIGNR(U8(8), ring(i, 1), tmp(i))    // [E F G H]
		MOVO(tmp(i), ring(i, 1))
		MOVOU(shPad, ring(i, 2))
		MOVOU(shPad.Offset(16), ring(i, 3))
		MOVOU(shIV, shS0(i))
		MOVOU(shIV.Offset(16), shS1(i))
	}
	steps(0, 29)

	Comment("Round 60, which makes h7, in general-purpose registers: test h7.")
	XORL(shLanes.As32(), shLanes.As32())
	for i := 0; i < L; i++ {
		shaniTestH7(i, ring(i, 15)) // W[60] is dword 0 of group 15
	}
	INCQ(shDone)
	ADDL(U8(L), shNonce.As32())
	endPass(shDone, shPasses, shLanes, "shanir2_pass", "shanir2_out", false)
}

// shaniTestH7 runs round 60 of lane i's second hash in general-purpose
// registers from the state after round 59 (ABEF = [f e b a] in s0, CDGH =
// [h g d c] in s1) and W[60] in dword 0 of w60: h7 = e61 + H7 = d + T1 +
// H7. If h7, byte-swapped, is at most the target's top word, it sets bit
// i of the lanes register. Clobbers RAX, RCX, RDX, RSI, RDI.
func shaniTestH7(i int, w60 VecPhysical) {
	e, f, g, h, d, w := RAX, RDI, RCX, RCX, RDX, RSI
	MOVQ(shS0(i), e) // f | e<<32
	MOVQ(shS1(i), h) // h | g<<32
	PEXTRD(U8(2), shS1(i), d.As32())
	MOVD(w60, w.As32())
	ADDL(h.As32(), w.As32())
	ADDL(d.As32(), w.As32())
	ADDL(U32(sha256k.K[60]+iv[7]), w.As32())
	MOVL(e.As32(), f.As32())
	SHRQ(U8(32), e)
	SHRQ(U8(32), g)
	XORL(g.As32(), f.As32()) // Ch(e, f, g) = ((f ^ g) & e) ^ g
	ANDL(e.As32(), f.As32())
	XORL(g.As32(), f.As32())
	ADDL(f.As32(), w.As32())
	MOVL(e.As32(), g.As32()) // Σ1(e)
	RORL(U8(6), g.As32())
	MOVL(e.As32(), d.As32())
	RORL(U8(11), d.As32())
	XORL(d.As32(), g.As32())
	RORL(U8(25), e.As32())
	XORL(e.As32(), g.As32())
	ADDL(g.As32(), w.As32())
	BSWAPL(w.As32())
	LEAL(Mem{Base: shLanes}.Offset(1<<i), f.As32())
	CMPL(w.As32(), shTop.As32())
	CMOVLLS(f.As32(), shLanes.As32())
}
