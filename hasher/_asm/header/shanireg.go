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
// (see main.go): 60 SHA256RNDS2, 24 SHA256MSG1 and 24 SHA256MSG2 a nonce.
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
	MOVOU(ctx(sctxMid), X0)
	for i := 0; i < L; i++ {
		PADDD(X0, shS0(i))
	}
	MOVOU(ctx(sctxMid+16), X0)
	for i := 0; i < L; i++ {
		PADDD(X0, shS1(i))
	}
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
		// W[60]: dword 0 of the ring's group 15.
		shaniTestH7(i, func(r Register) { MOVD(ring(i, 15), r) }, sha256k.K[60])
	}
	INCQ(shDone)
	ADDL(U8(L), shNonce.As32())
	TESTL(shLanes.As32(), shLanes.As32())
	JNZ(LabelRef("shanir2_out"))
	CMPQ(shDone, shPasses)
	JB(LabelRef("shanir2_pass"))
	Label("shanir2_out")
	Store(shDone, ReturnIndex(0))
	Store(shLanes.As32(), ReturnIndex(1))
	RET()
}
