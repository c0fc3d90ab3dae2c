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
// times zvec/vec); the kernel keeps its per-call constants in the first
// schedule section (aW1), which it does not otherwise use. Constants of
// the second hash are broadcast from a table of scalars (VPADDD with a
// broadcast memory operand).
//
// On top of what the AVX2 kernel skips, it does no work that is the same
// for all nonces or that the target test does not read:
//
//   - round 3 of the first hash adds W[3] to a constant: a and e after it
//     are W[3] plus a value computed once per call from the state after
//     round 2 (the other six words are that state's, shifted);
//   - in rounds 4..6 of the first hash and 1..3 of the second, where h is
//     a constant, h+W+K starts from a precomputed h+K (or h+W+K), and the
//     constant b, c, d, f, g are memory operands, not registers;
//   - a schedule word of the first hash adds its constant part only if it
//     has one (from W[34] on every term depends on the nonce);
//   - rounds 57..60 of the second hash compute only e: e61 = a57 + T1(60)
//     reads no later a; H7 is folded into K[60], so round 60 gives h7;
//   - byte swaps are one VPSHUFB.
//
// What is left per 16 nonces is counted in README's header-mode section.

const zvec = 64

// zAhead is how many rounds ahead of its round a schedule word is
// computed (less than 16, the ring's size): the schedule does not depend
// on the rounds, and emitted early it gives the out-of-order core work to
// do while the rounds wait on each other. 3 to 12 all measured about 3%
// faster than 0 (computing each word just before its round) on Emerald
// Rapids.
const zAhead = 8

// zoff converts an AVX2 arena offset to the AVX-512 arena's.
func zoff(off int) int { return off / vec * zvec }

// Registers: the state in Z0..Z7, temporaries in Z8..Z14, the byte-swap
// shuffle in Z15, and the message schedule in a ring of sixteen registers,
// Z16..Z31, W[t] in Z16+t%16: a word is computed into the register of
// W[t-16], its last reader, and never goes to memory.
var (
	zSt           = [8]VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7}
	zt0, zt1, zt2 = Z8, Z9, Z10
	zt3           = Z11
	zs            = Z12
	zu, zv        = Z13, Z14
	zBswap        = Z15
	zScalars      Mem
	zBswapTable   Mem
	zScalarTable  = constTable{index: map[uint32]int{}}
	zRing         = [16]VecPhysical{Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}
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
}{{aCK, R8}, {aCW, R9}, {aW1, R10}}

// The per-call constants, in the aW1 section: a and e after round 3 less
// W[3], and h+W+K of rounds 4, 5 and 6 (h is G, F, E of the state after
// round 2).
var (
	zSlotA3  = zmem(aW1 + 0*vec)
	zSlotE3  = zmem(aW1 + 1*vec)
	zSlotHWK = [3]Mem{zmem(aW1 + 2*vec), zmem(aW1 + 3*vec), zmem(aW1 + 4*vec)}
)

// zpre returns word k of the state after round 2 (in the arena).
func zpre(k int) Mem { return zmem(aPre + k*vec) }

// zConstBase holds the address of the scalar table, so that broadcast
// operands take an 8-bit displacement (a multiple of 4) too.
var zConstBase = R12

// zconst returns the table entry holding v, for a broadcast operand.
func zconst(v uint32) Mem {
	i, ok := zScalarTable.index[v]
	if !ok {
		panic("constant not in the AVX-512 table")
	}
	return Mem{Base: zConstBase}.Offset(4 * i)
}

// zop is an operand of a round: a register, a vector in memory or a
// scalar in the table, broadcast.
type zop struct {
	kind int // zReg, zVec or zBcst
	r    VecPhysical
	m    Mem
}

const (
	zReg = iota
	zVec
	zBcst
)

func zr(r VecPhysical) zop { return zop{kind: zReg, r: r} }
func zv512(m Mem) zop      { return zop{kind: zVec, m: m} }
func zb(v uint32) zop      { return zop{kind: zBcst, m: zconst(v)} }

// load copies o into dst.
func (o zop) load(dst VecPhysical) {
	switch o.kind {
	case zReg:
		VMOVDQA32(o.r, dst)
	case zVec:
		VMOVDQA32(o.m, dst)
	default:
		VPBROADCASTD(o.m, dst)
	}
}

// tern emits dst = f(dst, s2, o) with truth table imm.
func (o zop) tern(imm uint8, s2, dst VecPhysical) {
	switch o.kind {
	case zReg:
		VPTERNLOGD(U8(imm), o.r, s2, dst)
	case zVec:
		VPTERNLOGD(U8(imm), o.m, s2, dst)
	default:
		VPTERNLOGD_BCST(U8(imm), o.m, s2, dst)
	}
}

// add emits dst = src + o.
func (o zop) add(src, dst VecPhysical) {
	switch o.kind {
	case zReg:
		VPADDD(o.r, src, dst)
	case zVec:
		VPADDD(o.m, src, dst)
	default:
		VPADDD_BCST(o.m, src, dst)
	}
}

// ternTable returns the VPTERNLOGD immediate of f(dst, src2, src3).
func ternTable(f func(d, s2, s3 bool) bool) uint8 {
	var imm uint8
	for i := 0; i < 8; i++ {
		if f(i&4 != 0, i&2 != 0, i&1 != 0) {
			imm |= 1 << i
		}
	}
	return imm
}

var (
	ternXor3 = ternTable(func(d, s2, s3 bool) bool { return d != s2 != s3 })
	ternCh   = ternTable(func(d, s2, s3 bool) bool { return d && s2 || !d && s3 })  // Ch(dst, s2, s3)
	ternChS  = ternTable(func(d, s2, s3 bool) bool { return s2 && d || !s2 && s3 }) // Ch(s2, dst, s3)
	ternChSG = ternTable(func(d, s2, s3 bool) bool { return s2 && s3 || !s2 && d }) // Ch(s2, s3, dst)
	ternMaj  = ternTable(func(d, s2, s3 bool) bool { return d && s2 || d && s3 || s2 && s3 })
)

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

// zstate returns the operands of the state at round t: the registers,
// but for the words given in over (by index, 0 = a ... 7 = h), which are
// constants in memory. a, e and h are always registers.
func zstate(t int, over map[int]zop) (st [8]zop) {
	for k := range st {
		st[k] = zr(zname(t, k))
		if o, ok := over[k]; ok {
			st[k] = o
		}
	}
	return st
}

// zround emits round t; addWK makes h+W[t]+K[t] in the h register.
// Without needA only the new e is computed. st gives the operands (see
// zstate).
func zround(t int, addWK func(h VecPhysical), needA bool, st [8]zop) {
	a, e := zname(t, 0), zname(t, 4)
	d, h := zname(t, 3), zname(t, 7)
	b, c, f, g := st[1], st[2], st[5], st[6]
	addWK(h)
	zsigma(e, zt0, 6, 11, 25, false)
	switch {
	case f.kind == zReg && g.kind == zReg:
		VMOVDQA32(e, zt3)
		g.tern(ternCh, f.r, zt3)
	case f.kind != zReg:
		f.load(zt3)
		g.tern(ternChS, e, zt3)
	default: // g in memory, f a register
		g.load(zt3)
		f.tern(ternChSG, e, zt3)
	}
	VPADDD(zt3, h, h)
	VPADDD(zt0, h, h)
	st[3].add(h, d)
	if !needA {
		return
	}
	zsigma(a, zt1, 2, 13, 22, false)
	switch {
	case b.kind == zReg && c.kind == zReg:
		VMOVDQA32(a, zt2)
		c.tern(ternMaj, b.r, zt2)
	case b.kind != zReg:
		b.load(zt2)
		c.tern(ternMaj, a, zt2)
	default:
		c.load(zt2)
		b.tern(ternMaj, a, zt2)
	}
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
	// addSigma adds σ of x, made straight in dst if it is the first term.
	addSigma := func(x VecPhysical, r0, r1, sh uint8) {
		if have {
			zsigma(x, zs, r0, r1, sh, true)
			VPADDD(zs, dst, dst)
		} else {
			zsigma(x, dst, r0, r1, sh, true)
			have = true
		}
	}
	if isVar[t-2] {
		addSigma(zw(t-2), 17, 19, 10)
	}
	if isVar[t-15] {
		addSigma(zw(t-15), 7, 18, 3)
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

// hasConstTerm says whether schedule word t has a term that does not
// vary, so a constant part to add.
func hasConstTerm(t int, isVar *[64]bool) bool {
	return !isVar[t-2] || !isVar[t-7] || !isVar[t-15] || !isVar[t-16]
}

func avx512Data() {
	c := &zScalarTable
	c.addHash2()
	for t := 1; t <= 3; t++ {
		c.add(iv[7-t] + sha256k.K[t])
	}
	c.add(sha256k.K[60] + iv[7])
	c.add(16)
	zScalars = GLOBL("hdrAVX512Const", RODATA|NOPTR)
	for i, v := range c.vals {
		DATA(4*i, U32(v))
	}
	zBswapTable = GLOBL("hdrAVX512Bswap", RODATA|NOPTR)
	DATA(0, U64(0x0405060700010203))
	DATA(8, U64(0x0c0d0e0f08090a0b))
}

// avx512Round3Consts emits, once per call, the constants of round 3 of the
// first hash and of the h+W+K of rounds 4..6 (see zSlot*), from the state
// after round 2.
func avx512Round3Consts() {
	Comment("Once per call: round 3 of the first hash less W[3], and h+W+K of rounds 4..6.")
	A, B, C, D, E, F, G, H := zSt[0], zSt[1], zSt[2], zSt[3], zSt[4], zSt[5], zSt[6], zSt[7]
	for k := 0; k < 8; k++ {
		VMOVDQA32(zpre(k), zSt[k])
	}
	VPADDD(zmem(aCK+3*vec), H, H) // K[3]; W[3] comes per pass
	zsigma(E, zt0, 6, 11, 25, false)
	VMOVDQA32(E, zt3)
	VPTERNLOGD(U8(ternCh), G, F, zt3)
	VPADDD(zt3, H, H)
	VPADDD(zt0, H, H) // T1 less W[3]
	VPADDD(H, D, zt3)
	VMOVDQA32(zt3, zSlotE3)
	zsigma(A, zt1, 2, 13, 22, false)
	VMOVDQA32(A, zt2)
	VPTERNLOGD(U8(ternMaj), C, B, zt2)
	VPADDD(zt2, zt1, zt1)
	VPADDD(zt1, H, H)
	VMOVDQA32(H, zSlotA3)
	for i, x := range []VecPhysical{G, F, E} {
		VPADDD(zmem(aCK+vec*(4+i)), x, zt3)
		VMOVDQA32(zt3, zSlotHWK[i])
	}
}

func avx512Header() {
	avx512Data()
	TEXT("avx512Header", NOSPLIT, "func(arena *uint32, passes int) (done int, lanes uint32)")
	Pragma("noescape")
	Doc(
		"avx512Header is avx2Header with sixteen lanes in ZMM registers; its",
		"arena has vectors of 64 bytes, and its first schedule section is",
		"scratch.",
	)
	Load(Param("arena"), arena)
	passes, done, lanes := RSI, RDX, RAX
	Load(Param("passes"), passes)
	XORQ(done, done)
	for _, sec := range zSections {
		LEAQ(Mem{Base: arena}.Offset(zoff(sec.start+32*vec)), sec.base)
	}
	LEAQ(zScalars, zConstBase)
	if len(zScalarTable.vals) > 128 {
		panic("the scalar table outgrew 8-bit displacements")
	}
	VBROADCASTI32X4(zBswapTable, zBswap)
	avx512Round3Consts()

	Label("avx512hdr_pass")
	Comment("The first hash: W[3] is the nonce, byte-swapped; after round 3 a and e are W[3]",
		"plus a constant, b, c, d, f, g, h the state after round 2, shifted.")
	w3 := zw(3)
	VMOVDQA32(zmem(aNonce), w3)
	VPSHUFB(zBswap, w3, w3)
	VPADDD(zSlotA3, w3, zname(4, 0))
	VPADDD(zSlotE3, w3, zname(4, 4))
	// Rounds 4..6 read the constant words from the arena; their h is a
	// constant, so h+W+K is loaded.
	pre := map[int]map[int]zop{
		4: {1: zv512(zpre(0)), 2: zv512(zpre(1)), 3: zv512(zpre(2)), 5: zv512(zpre(4)), 6: zv512(zpre(5))},
		5: {2: zv512(zpre(0)), 3: zv512(zpre(1)), 6: zv512(zpre(4))},
		6: {3: zv512(zpre(0))},
	}
	next1 := 16 // the next schedule word to compute
	for t := 4; t < 64; t++ {
		t := t
		var add func(h VecPhysical)
		switch {
		case t <= 6:
			add = func(h VecPhysical) { VMOVDQA32(zSlotHWK[t-4], h) }
		case !headerVar[t]:
			add = func(h VecPhysical) { VPADDD(zmem(aCK+vec*t), h, h) }
		default:
			add = func(h VecPhysical) {
				VPADDD(zw(t), h, h)
				VPADDD(zmem(aCK+vec*t), h, h)
			}
		}
		for ; next1 <= min(t+zAhead, 63); next1++ {
			if u := next1; headerVar[u] {
				var c func(x VecPhysical)
				if hasConstTerm(u, &headerVar) {
					cw := zmem(aCW + vec*u)
					c = func(x VecPhysical) { VPADDD(cw, x, x) }
				}
				zschedule(u, &headerVar, c)
			}
		}
		Commentf("round %d", t)
		zround(t, add, true, zstate(t, pre[t]))
	}
	Comment("Feed-forward: the first digest is the second hash's W[0..7].")
	for k := 0; k < 8; k++ {
		VPADDD(zmem(aMid+k*vec), zname(64, k), zw(k))
	}

	wk, cw, ca, ce := hash2Consts()
	Comment("The second hash: round 0 from the initial state is two additions; rounds 1..3",
		"read the initial state's words from the table, and their h+K is one constant.")
	w0 := zw(0)
	VPADDD_BCST(zconst(ce), w0, zname(1, 4))
	VPADDD_BCST(zconst(ca), w0, zname(1, 0))
	// The state after round t (t < 4) is: a, b.. = a_t .. a_1, IV0 ..; e, f.. = e_t .. e_1, IV4 ...
	ivs := map[int]map[int]zop{
		1: {1: zb(iv[0]), 2: zb(iv[1]), 3: zb(iv[2]), 5: zb(iv[4]), 6: zb(iv[5])},
		2: {2: zb(iv[0]), 3: zb(iv[1]), 6: zb(iv[4])},
		3: {3: zb(iv[0])},
	}
	next2 := 16
	for t := 1; t <= 60; t++ {
		t := t
		var add func(h VecPhysical)
		switch {
		case t <= 3:
			hk := zconst(iv[7-t] + sha256k.K[t])
			add = func(h VecPhysical) { VPADDD_BCST(hk, zw(t), h) }
		case t < 8:
			add = func(h VecPhysical) {
				VPADDD(zw(t), h, h)
				VPADDD_BCST(zconst(sha256k.K[t]), h, h)
			}
		case t < 16:
			add = func(h VecPhysical) { VPADDD_BCST(zconst(wk[t]), h, h) }
		default:
			k := sha256k.K[t]
			if t == 60 {
				k += iv[7] // e61 + H7 = h7
			}
			add = func(h VecPhysical) {
				VPADDD(zw(t), h, h)
				VPADDD_BCST(zconst(k), h, h)
			}
		}
		for ; next2 <= min(t+zAhead, 60); next2++ {
			u := next2
			var c func(x VecPhysical)
			if cw[u] != 0 {
				c = func(x VecPhysical) { VPADDD_BCST(zconst(cw[u]), x, x) }
			}
			zschedule(u, &hash2Var, c)
		}
		Commentf("round %d of the second hash", t)
		zround(t, add, t < 57, zstate(t, ivs[t]))
	}
	Comment("h7 (e61 + H7, H7 added with K[60]), byte-swapped, against the top word (unsigned <=).")
	h7 := zname(61, 4)
	VPSHUFB(zBswap, h7, h7)
	VPCMPUD(U8(2), zmem(aTop), h7, K1)
	KMOVW(K1, lanes.As32())
	Comment("The next pass's nonces.")
	VMOVDQA32(zmem(aNonce), zs)
	VPADDD_BCST(zconst(16), zs, zs)
	VMOVDQA32(zs, zmem(aNonce))
	INCQ(done)
	endPass(done, passes, lanes, "avx512hdr_pass", "avx512hdr_out", true)
}
