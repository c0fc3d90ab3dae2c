package main

import (
	"github.com/powchain/powchain/hasher/_asm/sha256k"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 header kernel, avx512Header: the AVX2 kernel's pass with 16
// lanes in ZMM registers, where rotations are one instruction (VPRORD) and
// Ch, Maj and the three-way XORs of Σ and σ one VPTERNLOGD each, and with
// 32 registers the message schedule stays in registers. The arena is the
// AVX2 kernel's with 64-byte vectors (byte offsets are the a* constants
// times zvec/vec), of which the schedule sections go unused. Constants of
// the second hash are broadcast from a table of scalars (VPADDD with a
// broadcast memory operand).

const zvec = 64

// zoff converts an AVX2 arena offset to the AVX-512 arena's.
func zoff(off int) int { return off / vec * zvec }

// VPTERNLOGD truth tables, for dst = f(dst, src2, src3) with the bits of
// the index being dst<<2 | src2<<1 | src3.
const (
	ternXor3 = 0x96 // dst ^ src2 ^ src3
	ternCh   = 0xCA // dst ? src2 : src3
	ternMaj  = 0xE8 // majority of the three
)

// Registers: the state in Z0..Z7, temporaries in Z8..Z14, the byte-swap
// mask in Z15, and the message schedule in a ring of sixteen registers,
// Z16..Z31, W[t] in Z16+t%16: a word is computed into the register of
// W[t-16], its last reader, and never goes to memory.
var (
	zSt            = [8]VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7}
	zt0, zt1, zt2  = Z8, Z9, Z10
	zt3            = Z11
	zs             = Z12
	zu, zv         = Z13, Z14
	zMaskRegister  = Z15
	zByteSwapTemp  = zu
	zByteSwapTemp2 = zv
	zScalars       Mem
	zScalarIndex   = map[uint32]int{}
	zByteSwapMask  = uint32(0xff00ff00)
	zRing          = [16]VecPhysical{Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
)

// zw returns the ring register of schedule word t.
func zw(t int) VecPhysical { return zRing[t%16] }

func zname(t, k int) VecPhysical { return zSt[((k-t)%8+8)%8] }

// zmem addresses the AVX-512 arena at AVX2 offset off. Each 64-vector
// section has its own base register pointing at its middle, so that every
// displacement fits EVEX's compressed 8-bit form (a multiple of 64 within
// +-8 KiB) and the fully unrolled code stays short.
func zmem(off int) Mem {
	for _, s := range zSections {
		if off >= s.start && off < s.start+64*vec {
			return Mem{Base: s.base}.Offset(zoff(off - s.start - 32*vec))
		}
	}
	return Mem{Base: arena}.Offset(zoff(off))
}

var zSections = []struct {
	start int
	base  GPPhysical
}{{aCK, R8}, {aCW, R9}}

// zConstBase holds the address of the scalar table, so that broadcast
// operands take an 8-bit displacement (a multiple of 4) too.
var zConstBase = R12

// zconst returns the table entry holding v, for a broadcast operand.
func zconst(v uint32) Mem {
	i, ok := zScalarIndex[v]
	if !ok {
		panic("constant not in the AVX-512 table")
	}
	return Mem{Base: zConstBase}.Offset(4 * i)
}

// zsigma emits dst = ror(x, r0) ^ ror(x, r1) ^ (ror or shr)(x, r2).
func zsigma(x, dst VecPhysical, r0, r1, r2 uint8, shift bool) {
	VPRORD(U8(r0), x, dst)
	VPRORD(U8(r1), x, zu)
	if shift {
		VPSRLD(U8(r2), x, zv)
	} else {
		VPRORD(U8(r2), x, zv)
	}
	VPTERNLOGD(U8(ternXor3), zv, zu, dst)
}

// zround emits round t; without needA only the new e.
func zround(t int, addWK func(h VecPhysical), needA bool) {
	a, b, c, d := zname(t, 0), zname(t, 1), zname(t, 2), zname(t, 3)
	e, f, g, h := zname(t, 4), zname(t, 5), zname(t, 6), zname(t, 7)
	addWK(h)
	zsigma(e, zt0, 6, 11, 25, false)
	VMOVDQA32(e, zt3)
	VPTERNLOGD(U8(ternCh), g, f, zt3)
	VPADDD(zt3, h, h)
	VPADDD(zt0, h, h)
	VPADDD(h, d, d)
	if !needA {
		return
	}
	zsigma(a, zt1, 2, 13, 22, false)
	VMOVDQA32(a, zt2)
	VPTERNLOGD(U8(ternMaj), c, b, zt2)
	VPADDD(zt2, zt1, zt1)
	VPADDD(zt1, h, h)
}

// zschedule emits W[t] into its ring register from its varying terms
// (in the ring) and the constant part added by addConst (if any).
func zschedule(t int, isVar *[64]bool, addConst func(x VecPhysical)) {
	dst := zw(t)
	have := isVar[t-16] // dst holds W[t-16], a term
	add := func(x VecPhysical) {
		if have {
			VPADDD(x, dst, dst)
		} else {
			VMOVDQA32(x, dst)
			have = true
		}
	}
	if isVar[t-2] {
		if have {
			zsigma(zw(t-2), zs, 17, 19, 10, true)
			VPADDD(zs, dst, dst)
		} else {
			zsigma(zw(t-2), dst, 17, 19, 10, true)
			have = true
		}
	}
	if isVar[t-15] {
		if have {
			zsigma(zw(t-15), zs, 7, 18, 3, true)
			VPADDD(zs, dst, dst)
		} else {
			zsigma(zw(t-15), dst, 7, 18, 3, true)
			have = true
		}
	}
	if isVar[t-7] {
		add(zw(t - 7))
	}
	if !have {
		panic("a varying word without a varying term")
	}
	if addConst != nil {
		addConst(dst)
	}
}

// zbswap byte-swaps every lane of x in place: ror 8 where the mask is set,
// rol 8 elsewhere.
func zbswap(x VecPhysical) {
	VPRORD(U8(8), x, zByteSwapTemp)
	VPROLD(U8(8), x, zByteSwapTemp2)
	VMOVDQA32(zMaskRegister, x)
	VPTERNLOGD(U8(ternCh), zByteSwapTemp2, zByteSwapTemp, x)
}

func avx512Data() {
	wk, cw, ca, ce := hash2Consts()
	var vals []uint32
	add := func(v uint32) {
		if _, ok := zScalarIndex[v]; !ok {
			zScalarIndex[v] = len(vals)
			vals = append(vals, v)
		}
	}
	for t := 0; t < 64; t++ {
		add(sha256k.K[t])
		if t >= 8 && t < 16 {
			add(wk[t])
		}
		if t >= 16 && hash2Var[t] && cw[t] != 0 {
			add(cw[t])
		}
	}
	add(ca)
	add(ce)
	for _, v := range iv {
		add(v)
	}
	add(16)
	add(zByteSwapMask)
	zScalars = GLOBL("hdrAVX512Const", RODATA|NOPTR)
	for i, v := range vals {
		DATA(4*i, U32(v))
	}
}

func avx512Header() {
	avx512Data()
	TEXT("avx512Header", NOSPLIT, "func(arena *uint32, passes int) (done int, lanes uint32)")
	Pragma("noescape")
	Doc(
		"avx512Header is avx2Header with sixteen lanes in ZMM registers; its",
		"arena has vectors of 64 bytes.",
	)
	Load(Param("arena"), arena)
	passes, done, lanes := RSI, RDX, RAX
	Load(Param("passes"), passes)
	XORQ(done, done)
	for _, sec := range zSections {
		LEAQ(Mem{Base: arena}.Offset(zoff(sec.start+32*vec)), sec.base)
	}
	LEAQ(zScalars, zConstBase)
	if len(zScalarIndex) > 128 {
		panic("the scalar table outgrew 8-bit displacements")
	}
	VPBROADCASTD(zconst(zByteSwapMask), zMaskRegister)

	Label("avx512hdr_pass")
	Comment("The first hash from the state after round 2: W[3] is the nonce, byte-swapped.")
	VMOVDQA32(zmem(aNonce), zw(3))
	zbswap(zw(3))
	for k := 0; k < 8; k++ {
		VMOVDQA32(zmem(aPre+k*vec), zname(3, k))
	}
	for t := 3; t < 64; t++ {
		t := t
		var add func(h VecPhysical)
		switch {
		case !headerVar[t]:
			add = func(h VecPhysical) { VPADDD(zmem(aCK+vec*t), h, h) }
		default:
			if t >= 16 {
				cw := zmem(aCW + vec*t)
				zschedule(t, &headerVar, func(x VecPhysical) { VPADDD(cw, x, x) })
			}
			add = func(h VecPhysical) {
				VPADDD(zw(t), h, h)
				VPADDD(zmem(aCK+vec*t), h, h)
			}
		}
		Commentf("round %d", t)
		zround(t, add, true)
	}
	Comment("Feed-forward: the first digest is the second hash's W[0..7].")
	for k := 0; k < 8; k++ {
		VPADDD(zmem(aMid+k*vec), zname(64, k), zw(k))
	}

	wk, cw, ca, ce := hash2Consts()
	Comment("The second hash: round 0 from the initial state is two additions.")
	w0 := zw(0)
	VPADDD_BCST(zconst(ce), w0, zname(1, 4))
	VPADDD_BCST(zconst(ca), w0, zname(1, 0))
	for _, ks := range [][2]int{{1, 0}, {2, 1}, {3, 2}, {5, 4}, {6, 5}, {7, 6}} {
		VPBROADCASTD(zconst(iv[ks[1]]), zname(1, ks[0]))
	}
	for t := 1; t <= 60; t++ {
		t := t
		var add func(h VecPhysical)
		switch {
		case t < 8:
			add = func(h VecPhysical) {
				VPADDD(zw(t), h, h)
				VPADDD_BCST(zconst(sha256k.K[t]), h, h)
			}
		case t < 16:
			add = func(h VecPhysical) { VPADDD_BCST(zconst(wk[t]), h, h) }
		default:
			var c func(x VecPhysical)
			if cw[t] != 0 {
				c = func(x VecPhysical) { VPADDD_BCST(zconst(cw[t]), x, x) }
			}
			zschedule(t, &hash2Var, c)
			add = func(h VecPhysical) {
				VPADDD(zw(t), h, h)
				VPADDD_BCST(zconst(sha256k.K[t]), h, h)
			}
		}
		Commentf("round %d of the second hash", t)
		zround(t, add, t < 58)
	}
	Comment("h7 = e61 + H7, byte-swapped, against the top word (unsigned <=).")
	e61 := zname(61, 4)
	VPADDD_BCST(zconst(iv[7]), e61, e61)
	zbswap(e61)
	VPCMPUD(U8(2), zmem(aTop), e61, K1)
	KMOVW(K1, lanes.As32())
	Comment("The next pass's nonces.")
	VMOVDQA32(zmem(aNonce), zs)
	VPADDD_BCST(zconst(16), zs, zs)
	VMOVDQA32(zs, zmem(aNonce))
	INCQ(done)
	TESTL(lanes.As32(), lanes.As32())
	JNZ(LabelRef("avx512hdr_out"))
	CMPQ(done, passes)
	JB(LabelRef("avx512hdr_pass"))
	Label("avx512hdr_out")
	Store(done, ReturnIndex(0))
	Store(lanes.As32(), ReturnIndex(1))
	VZEROUPPER()
	RET()
}
