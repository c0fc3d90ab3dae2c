// Command shani generates hasher/shani_amd64.s: SHA-NI mining kernels that
// hash several nonces of one layout at once, one independent SHA-256
// message per lane.
//
// Run it from hasher/_asm (see the go:generate line in
// hasher/shani_amd64.go):
//
//	go run ./shani -out ../shani_amd64.s -stubs ../shani_stub_amd64.go -pkg hasher
//
// # Why lanes
//
// SHA256RNDS2 does two rounds and its result feeds the next one, so a single
// message is bound by the instruction's latency, while the unit can start a
// new SHA256RNDS2 well before the previous one finishes. Interleaving the
// rounds of independent messages (the lanes) fills that pipeline. Mining
// gives independent messages for free: every nonce is one.
//
// # What one pass does
//
// A pass hashes nonces base, base+1, ..., base+L-1, lane i holding base+i.
// Every lane has its own copy of the layout's nonce blocks (1 or 2 blocks of
// 64 bytes, digits written as ASCII). Every lane's W[t]+K[t] for its nonce
// blocks is in scratch memory when a pass starts, so the round code only
// needs X0 and the lanes' states in registers. A pass
//
//  1. runs the rounds of nonce block 0 for all lanes, interleaved, starting
//     from a state the Go side computed once per layout: the rounds of whole
//     16-byte groups before the first nonce digit are the same for every
//     nonce and are skipped (skip groups of four rounds);
//  2. runs nonce block 1, when the digits reach into it;
//  3. if another pass follows, adds L to every lane's ASCII nonce in place
//     (only then, so the digits never run past the last nonce asked for);
//  4. runs the constant blocks after the nonce blocks, whose W[t]+K[t] the Go
//     side precomputed once per layout: every lane uses the same X0, so one
//     load feeds L SHA256RNDS2. Into the first one (two, for two nonce
//     blocks) it mixes the SHA256MSG1/SHA256MSG2 expansion of the next
//     pass's nonce blocks, which fills the slots the rounds leave free;
//     without constant blocks the expansion runs on its own;
//  5. tests the first state word of every lane against the target mask
//     (PTEST); if a lane may meet the target, it stores every lane's state
//     and returns, and the Go side picks the lowest lane that really meets
//     it (the whole target check is in Go, only the first word in here).
//
// The first pass of a call expands its own schedules before it starts.
//
// States are kept in the SHA-NI order: ABEF = [F, E, B, A] and CDGH =
// [H, G, D, C] as little-endian dwords, which is also how the Go side lays
// out st and reads the stored states.
package main

import (
	"fmt"

	"github.com/powchain/powchain/hasher/_asm/sha256k"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// lanes lists the lane counts to generate: one function shaniMine<L> each.
//
// Three lanes were measured too (AMD Zen 5: 3 lanes 48.7, 4 lanes 50.5 M
// compressions/s on the 4-block benchmark) and are left out: no faster.
var lanes = []int{1, 2, 4}

// Scratch memory layout, shared with shani_amd64.go: first a save area of
// 32 bytes per lane (the state before a block, for the feed-forward; also
// where the states go when a lane may meet the target), then the W[t]+K[t]
// of every lane's nonce blocks, 256 bytes per lane and block, block-major.
const (
	saveBytes  = 32
	schedBytes = 256
)

func schedOff(L, block, lane int) int { return saveBytes*L + schedBytes*(block*L+lane) }

var (
	kTable   Mem // K[0..63], 16-byte aligned by the linker (256-byte symbol)
	flipMask Mem // PSHUFB mask: big-endian dwords to little-endian
)

// General-purpose registers, the same in every function.
var (
	stPtr     = R8  // st: start state [0:8], feed-forward midstate [8:16]
	lanePtr   = RBX // lanes: L nonce-block copies of stride bytes each
	scratch   = RDX // scratch: save area, then schedules
	wkPtr     = RSI // cursor over the constant blocks' W+K
	wkLeft    = RDI // constant blocks left in this pass
	stride    = R9  // bytes per lane copy: 64*nb
	skip      = R10 // 16-byte groups of block 0 to skip: 0..3
	digit     = R11 // offset of the last nonce digit in a lane copy
	passes    = R12 // passes asked for
	done      = R13 // passes done
	tmpA      = RAX
	tmpC      = RCX
	tmpC32    = ECX
	maskVec   = X14 // dword 3 = target mask on h0, others 0
	ffTmp     = X13 // feed-forward operand
	msgX0     = X0  // the implicit W+K operand of SHA256RNDS2
	flipVec   = X10 // schedule phase only
	schedRegs = [2][5]VecPhysical{{X0, X1, X2, X3, X4}, {X5, X6, X7, X8, X9}}
	mixRegs   = [5]VecPhysical{X9, X10, X11, X12, X15} // free beside 4 lanes' states
)

// state0 and state1 of lane i: X1..X2L. After an even number of
// SHA256RNDS2 steps state0 holds ABEF and state1 CDGH.
func s0(i int) VecPhysical { return vec(1 + 2*i) }
func s1(i int) VecPhysical { return vec(2 + 2*i) }

func vec(n int) VecPhysical {
	return []VecPhysical{X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15}[n]
}

func main() {
	ConstraintExpr("amd64")
	ConstraintExpr("gc")
	ConstraintExpr("!purego")
	ConstraintExpr("!noasm")

	kTable = GLOBL("shaniK256", RODATA|NOPTR)
	for i, k := range sha256k.K {
		DATA(4*i, U32(k))
	}
	flipMask = GLOBL("shaniFlip", RODATA|NOPTR)
	DATA(0, U64(0x0405060700010203))
	DATA(8, U64(0x0c0d0e0f08090a0b))

	for _, L := range lanes {
		mine(L)
	}
	Generate()
}

// mine generates shaniMine<L>.
func mine(L int) {
	if L < 1 || L > 4 {
		panic("lanes must be 1 to 4: mixRegs and liveSchedule assume at most 8 state registers")
	}
	name := fmt.Sprintf("shaniMine%d", L)
	TEXT(name, NOSPLIT, "func(st *[16]uint32, lanes *byte, scratch *uint32, wk *uint32, ncb int, nb int, skip int, digit int, passes int, mask uint32) (done int, found bool)")
	if L == lanes[0] {
		Doc(
			name+" hashes passes passes of L nonces each with SHA-NI (L is the",
			"number in the name), lane i of a pass holding the nonce written in",
			"lanes[i*64*nb:], and stops after the first pass in which some lane's",
			"first state word has no bit set under mask. It returns the passes done",
			"and whether it stopped that way; then scratch[8*i:8*i+8] holds lane",
			"i's final state (ABEF, CDGH). Between passes it adds L to every",
			"lane's ASCII nonce (the lanes' digits are left undefined on return).",
			"st holds the start state after skip groups of four rounds of the",
			"first nonce block, then the midstate, both as ABEF, CDGH. wk holds",
			"W[t]+K[t] of the ncb constant blocks that follow the nb (1 or 2)",
			"nonce blocks. digit is the offset of the last nonce digit in a lane's",
			"copy. passes >= 1. scratch holds 8*L + 64*L*nb uint32s.",
		)
	} else {
		Doc(fmt.Sprintf("%s is shaniMine%d with %d lanes.", name, lanes[0], L))
	}
	Pragma("noescape")

	Load(Param("st"), stPtr)
	Load(Param("lanes"), lanePtr)
	Load(Param("scratch"), scratch)
	Load(Param("nb"), stride)
	SHLQ(U8(6), stride)
	Load(Param("skip"), skip)
	Load(Param("digit"), digit)
	Load(Param("passes"), passes)
	XORQ(done, done)

	Comment("Target mask into dword 3 (where ABEF keeps A) of maskVec.")
	Load(Param("mask"), tmpC32)
	MOVQ(tmpC, maskVec)
	PSHUFD(U8(0x15), maskVec, maskVec)

	lbl := func(s string) string { return fmt.Sprintf("%s_%d", s, L) }

	Comment("The first pass expands its schedules on its own; later passes",
		"get theirs expanded during the previous pass's constant blocks.")
	scheduleAll(L, lbl("first"))

	Label(lbl("pass"))
	Comment("Start every lane from the state after the skipped rounds.")
	for i := 0; i < L; i++ {
		MOVOU(Mem{Base: stPtr}, s0(i))
		MOVOU(Mem{Base: stPtr}.Offset(16), s1(i))
	}

	Comment("Nonce block 0: enter the unrolled rounds at group skip.")
	CMPQ(skip, U8(1))
	JB(LabelRef(lbl("b0g0")))
	JE(LabelRef(lbl("b0g1")))
	CMPQ(skip, U8(2))
	JE(LabelRef(lbl("b0g2")))
	JMP(LabelRef(lbl("b0g3")))
	for g := 0; g < 16; g++ {
		if g < 4 {
			Label(lbl(fmt.Sprintf("b0g%d", g)))
		}
		laneRounds(L, 0, g)
	}
	Comment("Feed-forward of block 0: add the midstate.")
	MOVOU(Mem{Base: stPtr}.Offset(32), ffTmp)
	for i := 0; i < L; i++ {
		PADDD(ffTmp, s0(i))
	}
	MOVOU(Mem{Base: stPtr}.Offset(48), ffTmp)
	for i := 0; i < L; i++ {
		PADDD(ffTmp, s1(i))
	}

	CMPQ(stride, U8(128))
	JNE(LabelRef(lbl("nonce_done")))
	Comment("Nonce block 1.")
	saveStates(L)
	for g := 0; g < 16; g++ {
		laneRounds(L, 1, g)
	}
	addSaved(L)
	Label(lbl("nonce_done"))

	Load(Param("wk"), wkPtr)
	Load(Param("ncb"), wkLeft)
	INCQ(done)
	CMPQ(done, passes)
	JE(LabelRef(lbl("last")))

	Comment("Another pass follows: its schedules only depend on its digits,",
		fmt.Sprintf("so add %d to every lane's ASCII nonce now.", L))
	increment(L, lbl)

	Comment("Expand the next pass's schedules while the constant blocks run:",
		"nonce block b's during constant block b, the rest on their own.")
	TESTQ(wkLeft, wkLeft)
	JNZ(LabelRef(lbl("mix0")))
	emit(liveSchedule(L, 0))
	CMPQ(stride, U8(128))
	JNE(LabelRef(lbl("check")))
	emit(liveSchedule(L, 1))
	JMP(LabelRef(lbl("check")))
	Label(lbl("mix0"))
	constBlockMixed(L, 0)
	DECQ(wkLeft)
	CMPQ(stride, U8(128))
	JNE(LabelRef(lbl("rest")))
	TESTQ(wkLeft, wkLeft)
	JNZ(LabelRef(lbl("mix1")))
	emit(liveSchedule(L, 1))
	JMP(LabelRef(lbl("check")))
	Label(lbl("mix1"))
	constBlockMixed(L, 1)
	DECQ(wkLeft)
	Label(lbl("rest"))
	constBlocks(L, lbl("rest_loop"))

	Label(lbl("check"))
	Comment("Target: does any lane's h0 have no bit set under the mask?")
	for i := 0; i < L; i++ {
		PTEST(maskVec, s0(i))
		JZ(LabelRef(lbl("found")))
	}
	JMP(LabelRef(lbl("pass")))

	Label(lbl("last"))
	Comment("The last pass: only the constant blocks are left.")
	constBlocks(L, lbl("last_loop"))
	for i := 0; i < L; i++ {
		PTEST(maskVec, s0(i))
		JZ(LabelRef(lbl("found")))
	}
	Store(done, ReturnIndex(0))
	MOVB(U8(0), tmpC.As8())
	Store(tmpC.As8(), ReturnIndex(1))
	RET()

	Label(lbl("found"))
	Comment("Some lane may meet the target: hand every lane's state to Go.")
	for i := 0; i < L; i++ {
		MOVOU(s0(i), Mem{Base: scratch}.Offset(saveBytes*i))
		MOVOU(s1(i), Mem{Base: scratch}.Offset(saveBytes*i+16))
	}
	Store(done, ReturnIndex(0))
	MOVB(U8(1), tmpC.As8())
	Store(tmpC.As8(), ReturnIndex(1))
	RET()
}

// scheduleAll emits the schedules of every nonce block on their own.
func scheduleAll(L int, label string) {
	schedule(L, 0)
	CMPQ(stride, U8(128))
	JNE(LabelRef(label))
	schedule(L, 1)
	Label(label)
}

// increment emits the addition of L to the ASCII nonce of every lane. The
// caller guarantees that no lane's nonce gets more digits.
func increment(L int, lbl func(string) string) {
	LEAQ(Mem{Base: lanePtr, Index: digit, Scale: 1}, tmpA)
	for i := 0; i < L; i++ {
		next := lbl(fmt.Sprintf("inc%d", i))
		carry := lbl(fmt.Sprintf("carry%d", i))
		MOVBLZX(Mem{Base: tmpA}, tmpC32)
		ADDL(U8(L), tmpC32)
		CMPL(tmpC32, U8('9'))
		JA(LabelRef(carry + "_start"))
		MOVB(CL, Mem{Base: tmpA})
		JMP(LabelRef(next))
		Label(carry + "_start")
		Comment("The last digit wrapped: carry one into the digits before it.")
		SUBL(U8(10), tmpC32)
		MOVB(CL, Mem{Base: tmpA})
		MOVQ(tmpA, tmpC)
		Label(carry)
		DECQ(tmpC)
		CMPB(Mem{Base: tmpC}, U8('9'))
		JNE(LabelRef(carry + "_end"))
		MOVB(U8('0'), Mem{Base: tmpC})
		JMP(LabelRef(carry))
		Label(carry + "_end")
		INCB(Mem{Base: tmpC})
		Label(next)
		if i < L-1 {
			ADDQ(stride, tmpA)
		}
	}
}

// constBlocks emits the loop over the wkLeft constant blocks left at wkPtr.
func constBlocks(L int, label string) {
	TESTQ(wkLeft, wkLeft)
	JZ(LabelRef(label + "_end"))
	Label(label)
	saveStates(L)
	for step := 0; step < 32; step++ {
		MOVQ(Mem{Base: wkPtr}.Offset(8*step), msgX0)
		for i := 0; i < L; i++ {
			rnds2(i, step)
		}
	}
	addSaved(L)
	ADDQ(U32(256), wkPtr)
	DECQ(wkLeft)
	JNZ(LabelRef(label))
	Label(label + "_end")
}

// liveSchedule returns the instructions expanding the schedule of nonce
// block b of every lane in mixRegs, one lane after the other, leaving the
// lanes' states and maskVec alone.
func liveSchedule(L, b int) []func() {
	var ops []func()
	ops = append(ops, func() {
		LEAQ(Mem{Base: lanePtr}.Offset(64*b), tmpA)
		LEAQ(Mem{Base: tmpA, Index: stride, Scale: 2}, tmpC)
	})
	for i := 0; i < L; i++ {
		src := []Mem{{Base: tmpA}, {Base: tmpA, Index: stride, Scale: 1},
			{Base: tmpC}, {Base: tmpC, Index: stride, Scale: 1}}[i]
		ops = append(ops, scheduleLane(mixRegs, src, flipMask, schedOff(L, b, i))...)
	}
	return ops
}

// constBlockMixed emits one constant block at wkPtr with the schedule of
// nonce block b of every lane (liveSchedule) spread evenly over its steps.
func constBlockMixed(L, b int) {
	ops := liveSchedule(L, b)
	total := len(ops)
	saveStates(L)
	for step := 0; step < 32; step++ {
		MOVQ(Mem{Base: wkPtr}.Offset(8*step), msgX0)
		for i := 0; i < L; i++ {
			rnds2(i, step)
		}
		n := total*(step+1)/32 - total*step/32
		for _, op := range ops[:n] {
			op()
		}
		ops = ops[n:]
	}
	if len(ops) != 0 {
		panic("schedule ops left over")
	}
	addSaved(L)
	ADDQ(U32(256), wkPtr)
}

func emit(ops []func()) {
	for _, op := range ops {
		op()
	}
}

// rnds2 emits SHA256RNDS2 step number step (two rounds) of lane i; the two
// state registers swap roles every step.
func rnds2(i, step int) {
	if step%2 == 0 {
		SHA256RNDS2(msgX0, s0(i), s1(i))
	} else {
		SHA256RNDS2(msgX0, s1(i), s0(i))
	}
}

// laneRounds emits rounds 4g..4g+3 of nonce block b for every lane, from
// the lanes' own W+K in scratch.
func laneRounds(L, b, g int) {
	for half := 0; half < 2; half++ {
		for i := 0; i < L; i++ {
			MOVQ(Mem{Base: scratch}.Offset(schedOff(L, b, i)+16*g+8*half), msgX0)
			rnds2(i, 2*g+half)
		}
	}
}

// saveStates stores every lane's state before a block, for the feed-forward.
func saveStates(L int) {
	for i := 0; i < L; i++ {
		MOVOU(s0(i), Mem{Base: scratch}.Offset(saveBytes*i))
		MOVOU(s1(i), Mem{Base: scratch}.Offset(saveBytes*i+16))
	}
}

// addSaved adds the saved states back after a block: the feed-forward.
func addSaved(L int) {
	for i := 0; i < L; i++ {
		MOVOU(Mem{Base: scratch}.Offset(saveBytes*i), ffTmp)
		PADDD(ffTmp, s0(i))
		MOVOU(Mem{Base: scratch}.Offset(saveBytes*i+16), ffTmp)
		PADDD(ffTmp, s1(i))
	}
}

// schedule emits the message schedule of nonce block b of every lane: the
// 16 words from the lane's copy, big-endian, then W[16..63] with
// SHA256MSG1/SHA256MSG2, all stored as W+K. Two lanes are expanded at a
// time, their instructions interleaved, since each lane's expansion is one
// long dependency chain.
func schedule(L, b int) {
	MOVOU(flipMask, flipVec)
	LEAQ(Mem{Base: lanePtr}.Offset(64*b), tmpA)
	for first := 0; first < L; first += 2 {
		var progs [][]func()
		for j := 0; j < 2 && first+j < L; j++ {
			src := Mem{Base: tmpA}
			if j == 1 {
				src = Mem{Base: tmpA, Index: stride, Scale: 1}
			}
			progs = append(progs, scheduleLane(schedRegs[j], src, flipVec, schedOff(L, b, first+j)))
		}
		for n := 0; ; n++ {
			emitted := false
			for _, p := range progs {
				if n < len(p) {
					p[n]()
					emitted = true
				}
			}
			if !emitted {
				break
			}
		}
		if first+2 < L {
			LEAQ(Mem{Base: tmpA, Index: stride, Scale: 2}, tmpA)
		}
	}
}

// scheduleLane returns the instructions expanding one lane's schedule from
// the block at src, W+K to scratch+dst. r holds m0..m3 and a temporary;
// flip is the byte-swap mask, in a register or memory.
func scheduleLane(r [5]VecPhysical, src Mem, flip Op, dst int) []func() {
	var ops []func()
	op := func(f func()) { ops = append(ops, f) }
	m := r[:4]
	t := r[4]
	wk := func(g int) {
		op(func() { MOVO(m[g%4], t) })
		op(func() { PADDD(kTable.Offset(16*g), t) })
		op(func() { MOVOU(t, Mem{Base: scratch}.Offset(dst+16*g)) })
	}
	for g := 0; g < 4; g++ {
		g := g
		op(func() { MOVOU(src.Offset(16*g), m[g]) })
		op(func() { PSHUFB(flip, m[g]) })
		wk(g)
	}
	for g := 4; g < 16; g++ {
		g := g
		w4, w3, w2, w1 := m[(g-4)%4], m[(g-3)%4], m[(g-2)%4], m[(g-1)%4]
		// W[g] = msg2(msg1(W[g-4], W[g-3]) + (W[g-1]:W[g-2] >> 32), W[g-1]),
		// in 4-word groups; W[g-4]'s register becomes W[g]'s.
		op(func() { SHA256MSG1(w3, w4) })
		op(func() { MOVO(w1, t) })
		op(func() { PALIGNR(U8(4), w2, t) })
		op(func() { PADDD(t, w4) })
		op(func() { SHA256MSG2(w1, w4) })
		wk(g)
	}
	return ops
}
