// Command avx2 generates hasher/avx2_amd64.s: an AVX2 SHA-256 mining kernel
// that hashes eight nonces of one layout at once, one nonce per 32-bit lane
// of the YMM registers.
//
// Run it from hasher/_asm (see the go:generate line in
// hasher/avx2_amd64.go):
//
//	go run ./avx2 -out ../avx2_amd64.s -stubs ../avx2_stub_amd64.go -pkg hasher
//
// # Lanes
//
// Every YMM register holds one 32-bit SHA-256 variable (a state word or a
// message word) for eight messages, lane i holding nonce base+i. AVX2 has
// no rotate, so a rotation is two shifts and an XOR; a round is about 35
// vector instructions for eight nonces, with the eight state words in
// Y0..Y7 and Y8..Y12 as temporaries.
//
// # The arena
//
// The function takes one pointer, to a 32-byte aligned arena of uint32s
// that the Go side (simdSearcher in simd_amd64.go, shared with the other
// SIMD kernel) fills once per layout. Its layout, in bytes, is
// internal/simd's for this vector size:
//
//	   0 header, uint64s: [0] nonce blocks (1 or 2), [1] constant blocks,
//	     [2] byte index of the first round group (j0&^7)*32, [3] j0&7,
//	     [4] number of nonce digits, [5] first-word target mask
//	 128 midstate, 8 vectors (every lane the same)
//	 384 state after rounds 0..j0-1 of nonce block 0, 8 vectors
//	 640 state save: the state after the last block done, 8 vectors; after
//	     a pass it is the final state (the digest words) of every lane
//	 896 digit table: per nonce digit, last digit first, the byte offset in
//	     the arena of the message-word vector holding it (uint32) and the
//	     bit shift of the digit in that word (uint32)
//	1152 message schedule W[0..63] of nonce block 0, one vector per word
//	3200 message schedule W[0..63] of nonce block 1 (if any)
//	5248 W[t]+K[t] of the constant blocks, 64 uint32s per block
//
// j0 is the index of the first message word of nonce block 0 that holds a
// nonce digit: rounds 0..j0-1 are the same for every nonce and the Go side
// runs them once per layout.
//
// # One pass
//
//  1. Expand W[16..63] of the nonce blocks from their W[0..15]: the constant
//     words were broadcast by the Go side, the words with digits hold each
//     lane's ASCII digits.
//  2. Run rounds j0..63 of nonce block 0 from the saved start state. The
//     rounds are a loop over groups of eight unrolled rounds (the register
//     names rotate by one per round, so after eight rounds they are back in
//     place); the first group is entered at round j0&7 after loading the
//     state into the registers that round expects.
//  3. Run nonce block 1 the same way, if the digits reach into it.
//  4. Run the constant blocks, adding the broadcast scalar W[t]+K[t]: no
//     message schedule work is left for them.
//  5. Test the first digest word of every lane against the target mask
//     (VPCMPEQD, VMOVMSKPS), dropping lanes past the end of the range on
//     the last pass.
//  6. Add 8 to every lane's ASCII nonce in the message words, in place: add
//     at the last digit, then carry to the left while any lane carries.
//  7. Return if some lane passed the test; the Go side checks the whole
//     target on the saved states and picks the lowest lane. Otherwise go on
//     with the next pass until the requested number is done.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/powchain/powchain/hasher/_asm/internal/gofile"
	"github.com/powchain/powchain/hasher/_asm/internal/simd"
	"github.com/powchain/powchain/hasher/_asm/sha256k"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// vec is the bytes of one vector; lay is the arena's layout for it.
const vec = 32

var lay = simd.NewArena(vec)

var (
	// st holds the eight state words; which register is which word
	// rotates by one per round (see name).
	st = [8]VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7}
	// bcab are the two Maj temporaries: one holds b^c on entry to a round,
	// the other receives a^b, which is the next round's b^c.
	bcab = [2]VecPhysical{Y8, Y9}
	// t0..t2 are the Σ temporaries, t3 the broadcast W+K.
	t0, t1, t2, t3 = Y10, Y11, Y12, Y13
)

// name returns the register holding state word k (0 = a ... 7 = h) at
// round i of a group of eight.
func name(i, k int) VecPhysical { return st[((k-i)%8+8)%8] }

// bigSigma emits x's Σ with rotations r0, r1, r2 into t0 (clobbers t1, t2).
func bigSigma(x VecPhysical, r0, r1, r2 uint8) {
	VPSRLD(U8(r0), x, t0)
	VPSLLD(U8(32-r0), x, t1)
	VPXOR(t1, t0, t0)
	VPSRLD(U8(r1), x, t1)
	VPSLLD(U8(32-r1), x, t2)
	VPXOR(t2, t1, t1)
	VPXOR(t1, t0, t0)
	VPSRLD(U8(r2), x, t1)
	VPSLLD(U8(32-r2), x, t2)
	VPXOR(t2, t1, t1)
	VPXOR(t1, t0, t0)
}

// round emits round i (0..7) of a group; addWK adds W[t]+K[t] to h.
func round(i int, addWK func(h VecPhysical)) {
	a, b, d, e, f, g, h := name(i, 0), name(i, 1), name(i, 3), name(i, 4), name(i, 5), name(i, 6), name(i, 7)
	bc, ab := bcab[i%2], bcab[(i+1)%2]

	// T1 = h + W+K + Ch(e, f, g) + Σ1(e), Ch = ((f^g)&e)^g; d += T1 is
	// the next e. Σ1 is emitted first and added last: it is the longest
	// path from e to the next e (measured 6% faster than Ch first).
	addWK(h)
	bigSigma(e, 6, 11, 25)
	VPXOR(g, f, t1)
	VPAND(e, t1, t1)
	VPXOR(g, t1, t1)
	VPADDD(t1, h, h)
	VPADDD(t0, h, h)
	VPADDD(h, d, d)
	// a' = T1 + Σ0(a) + Maj(a, b, c), Maj = ((a^b)&(b^c))^b.
	bigSigma(a, 2, 13, 22)
	VPXOR(b, a, ab)
	VPAND(ab, bc, bc)
	VPXOR(b, bc, bc)
	VPADDD(bc, t0, t0)
	VPADDD(t0, h, h)
}

// setBC sets the round-i Maj temporary to b^c.
func setBC(i int) {
	VPXOR(name(i, 2), name(i, 1), bcab[i%2])
}

// smallSigma emits σ of x with rotations r0, r1 and shift s into dst
// (clobbers u, v).
func smallSigma(x, dst, u, v VecPhysical, r0, r1, s uint8) {
	VPSRLD(U8(s), x, dst)
	VPSRLD(U8(r0), x, u)
	VPSLLD(U8(32-r0), x, v)
	VPXOR(u, v, v)
	VPXOR(v, dst, dst)
	VPSRLD(U8(r1), x, u)
	VPSLLD(U8(32-r1), x, v)
	VPXOR(u, v, v)
	VPXOR(v, dst, dst)
}

// layout names the Go file the arena's layout is written to, for the
// Go side of both SIMD kernels (simd.LayoutConsts).
var layout = flag.String("layout", "", "write the arena layout's Go constants to this file")

func main() {
	flag.Parse()
	if *layout != "" {
		if err := gofile.Write(*layout, "amd64", "hasher", "go run ./avx2 -layout "+filepath.Base(*layout),
			"The arena of the avx2 and avx512 kernels, in bytes from its\nvector-aligned start (see _asm/internal/simd).", simd.LayoutConsts()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, c := range []string{"amd64", "gc", "!purego", "!noasm"} {
		ConstraintExpr(c)
	}

	kv := GLOBL("avx2K", RODATA|NOPTR)
	for t, k := range sha256k.K {
		for l := 0; l < 8; l++ {
			DATA(vec*t+4*l, U32(k))
		}
	}
	consts := GLOBL("avx2Consts", RODATA|NOPTR)
	DATA(0, U32(8))    // lanes per pass: the nonce step
	DATA(4, U32(0xff)) // byte mask
	DATA(8, U32('9'))  // largest digit
	DATA(12, U32(10))  // decimal base

	simd.Text("avx2Search",
		"avx2Search runs up to passes passes of eight nonces over the layout in",
		"the arena (see avx2_amd64.go) and returns the passes done and the lanes",
		"of the last one whose first digest word passed the target mask, 0 if",
		"none did. lastMask masks the lanes of the last pass.",
	)

	arena, passes, lastMask, pass := RDI, R8, R10, R9
	wptr, kend, kptr, ffptr, nblk, wkptr, cnt := RSI, RCX, R11, R12, R13, RBX, RDX
	simd.LoadArgs(arena, passes, lastMask, pass)
	mem := func(disp int) Mem { return Mem{Base: arena, Disp: disp} }

	Label("pass")

	Comment("1. Expand the message schedules of the nonce blocks.")
	LEAQ(mem(lay.W0+16*vec), wptr)
	MOVQ(mem(simd.HdrNonceBlocks), nblk)
	Label("expand_block")
	res := [2]VecPhysical{Y14, Y15} // W[t-2] and W[t-1], alternating
	VMOVDQU(Mem{Base: wptr, Disp: -2 * vec}, res[0])
	VMOVDQU(Mem{Base: wptr, Disp: -1 * vec}, res[1])
	MOVQ(U32(6), cnt)
	Label("expand")
	for i := 0; i < 8; i++ {
		w := func(back int) Mem { return Mem{Base: wptr, Disp: (i - back) * vec} }
		x := res[i%2]
		// Alternate the temporaries so two words can be in flight.
		var s1, u1, v1, y, s0, u0, v0 VecPhysical
		if i%2 == 0 {
			s1, u1, v1, y, s0, u0, v0 = Y0, Y1, Y2, Y3, Y4, Y5, Y6
		} else {
			s1, u1, v1, y, s0, u0, v0 = Y7, Y8, Y9, Y10, Y11, Y12, Y13
		}
		Commentf("W[t+%d] = σ1(W[t+%d]) + W[t+%d] + σ0(W[t+%d]) + W[t+%d]", i, i-2, i-7, i-15, i-16)
		smallSigma(x, s1, u1, v1, 17, 19, 10)
		VMOVDQU(w(15), y)
		smallSigma(y, s0, u0, v0, 7, 18, 3)
		VPADDD(w(7), s1, s1)
		VPADDD(w(16), s0, s0)
		VPADDD(s0, s1, x)
		VMOVDQU(x, w(0))
	}
	ADDQ(U32(8*vec), wptr)
	DECQ(cnt)
	JNZ(LabelRef("expand"))
	ADDQ(U32(16*vec), wptr) // W[16] of the next block
	DECQ(nblk)
	JNZ(LabelRef("expand_block"))

	Comment("2. Nonce block 0 from round j0: enter the round loop at j0&7.")
	LEAQ(mem(lay.W0), wptr)
	LEAQ(mem(simd.OffMid), ffptr)
	MOVQ(mem(simd.HdrNonceBlocks), nblk)
	MOVQ(mem(simd.HdrWIdx0), RAX)
	ADDQ(RAX, wptr)
	LEAQ(kv, kptr)
	ADDQ(RAX, kptr)
	LEAQ(kv.Offset(64*vec), kend)
	simd.EnterAt(mem(simd.HdrRot0), func(r int) {
		for k := 0; k < 8; k++ {
			VMOVDQU(mem(lay.Start+k*vec), name(r, k))
		}
		setBC(r)
	})

	// wptr and kptr advance by a group of eight rounds: base+index
	// addressing would un-laminate the three-operand VPADDD on Intel cores.
	Comment("Rounds of a nonce block: W[t] per lane from the schedule, K[t] from avx2K.")
	Label("vblock")
	setBC(0)
	Label("vloop")
	for i := 0; i < 8; i++ {
		Label(fmt.Sprintf("vround%d", i))
		round(i, func(h VecPhysical) {
			VPADDD(Mem{Base: wptr, Disp: i * vec}, h, h)
			VPADDD(Mem{Base: kptr, Disp: i * vec}, h, h)
		})
	}
	ADDQ(U32(8*vec), wptr)
	ADDQ(U32(8*vec), kptr)
	CMPQ(kptr, kend)
	JB(LabelRef("vloop"))
	feedForward(ffptr, arena)
	LEAQ(mem(lay.Save), ffptr)
	Comment("3. Nonce block 1, if any.")
	LEAQ(kv, kptr) // wptr is at W[0] of nonce block 1 already
	DECQ(nblk)
	JNZ(LabelRef("vblock"))

	Comment("4. The constant blocks: broadcast W[t]+K[t], no schedule.")
	MOVQ(mem(simd.HdrConstBlocks), nblk)
	TESTQ(nblk, nblk)
	JZ(LabelRef("check"))
	LEAQ(mem(lay.WK), wkptr)
	Label("cblock")
	setBC(0)
	MOVQ(U32(8), cnt)
	Label("cloop")
	for i := 0; i < 8; i++ {
		round(i, func(h VecPhysical) {
			VPBROADCASTD(Mem{Base: wkptr, Disp: 4 * i}, t3)
			VPADDD(t3, h, h)
		})
	}
	ADDQ(U32(8*4), wkptr)
	DECQ(cnt)
	JNZ(LabelRef("cloop"))
	feedForward(ffptr, arena)
	DECQ(nblk)
	JNZ(LabelRef("cblock"))

	Comment("5. Which lanes' first digest word passes the mask?")
	Label("check")
	lanes := wkptr // done with
	VPBROADCASTD(mem(simd.HdrMask), Y8)
	VPAND(Y0, Y8, Y8)
	VPXOR(Y9, Y9, Y9)
	VPCMPEQD(Y9, Y8, Y8)
	VMOVMSKPS(Y8, lanes.As32())
	simd.CountPass(lanes, pass, passes, lastMask, 8)

	Comment("6. Add 8 to every lane's nonce, carrying while any lane carries.")
	c, ff, nine, ten, v, tt, m, count := Y8, Y9, Y10, Y11, Y12, Y13, Y14, X15
	VPBROADCASTD(consts.Offset(0), c)
	VPBROADCASTD(consts.Offset(4), ff)
	VPBROADCASTD(consts.Offset(8), nine)
	VPBROADCASTD(consts.Offset(12), ten)
	LEAQ(mem(lay.Digit), wptr)
	MOVQ(mem(simd.HdrDigits), cnt)
	Label("digit")
	MOVL(Mem{Base: wptr}, EAX)
	VMOVD(Mem{Base: wptr, Disp: 4}, count)
	VMOVDQU(Mem{Base: arena, Index: RAX, Scale: 1}, v)
	VPSLLD(count, c, tt) // v += carry << shift
	VPADDD(tt, v, v)
	VPSRLD(count, v, tt) // the digit
	VPAND(ff, tt, tt)
	VPCMPGTD(nine, tt, m) // lanes whose digit passed '9'
	VPAND(ten, m, tt)     // take 10 from them
	VPSLLD(count, tt, tt)
	VPSUBD(tt, v, v)
	VMOVDQU(v, Mem{Base: arena, Index: RAX, Scale: 1})
	VPTEST(m, m)
	JZ(LabelRef("digits_done"))
	VPSRLD(U8(31), m, c) // carry 1 into the next digit to the left
	ADDQ(U8(8), wptr)
	DECQ(cnt)
	JNZ(LabelRef("digit"))
	Label("digits_done")

	simd.EndPass(lanes, pass, passes)

	Generate()
}

// feedForward adds the vectors at ff to the state (in round-0 order) and
// saves the result, the state after the block, in the arena's save area.
func feedForward(ff, arena Register) {
	for k := 0; k < 8; k++ {
		VPADDD(Mem{Base: ff, Disp: k * vec}, st[k], st[k])
		VMOVDQU(st[k], Mem{Base: arena, Disp: lay.Save + k*vec})
	}
}
