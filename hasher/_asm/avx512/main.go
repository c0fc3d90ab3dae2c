// Command avx512 generates hasher/avx512_amd64.s: an AVX-512 SHA-256 mining
// kernel that hashes sixteen nonces of one layout at once, one nonce per
// 32-bit lane of the ZMM registers.
//
// Run it from hasher/_asm (see the go:generate line in
// hasher/avx512_amd64.go):
//
//	go run ./avx512 -out ../avx512_amd64.s -stubs ../avx512_stub_amd64.go -pkg hasher
//
// It is the avx2 kernel (see _asm/avx2) at twice the width, with the
// instructions AVX-512 adds where they shorten a round:
//
//   - VPRORD rotates in one instruction where AVX2 needs two shifts and an
//     XOR;
//   - VPTERNLOGD computes Ch (0xCA), Maj (0xE8) and the three-way XORs of
//     the Σ and σ functions (0x96) in one instruction each;
//   - K[t], the constant blocks' W[t]+K[t] and the target mask are added or
//     tested straight from a 32-bit memory operand broadcast to all lanes
//     ({1to16}), so no register holds them and no table repeats them;
//   - the target test is one VPTESTNMD into a mask register, and the
//     nonce increment's "digit passed 9" test is a VPCMPUD into one.
//
// A round is 18 vector instructions for sixteen nonces (two of them
// register copies that feed VPTERNLOGD, which overwrites its first
// operand), against about 35 for eight in the avx2 kernel.
//
// # The arena
//
// The function takes one pointer, to a 64-byte aligned arena of uint32s
// that the Go side (simdSearcher in simd_amd64.go, shared with the other
// SIMD kernel) fills once per layout. Its layout, in bytes, is
// internal/simd's for this vector size:
//
//	    0 header, uint64s: [0] nonce blocks (1 or 2), [1] constant blocks,
//	      [2] byte offset of the first round group's W, (j0&^7)*64, [3]
//	      j0&7, [4] number of nonce digits, [5] first-word target mask,
//	      [6] byte offset of the first round group's K, (j0&^7)*4
//	  128 midstate, 8 vectors (every lane the same)
//	  640 state after rounds 0..j0-1 of nonce block 0, 8 vectors
//	 1152 state save: the state after the last block done, 8 vectors; after
//	      a pass it is the final state (the digest words) of every lane
//	 1664 digit table: per nonce digit, last digit first, the byte offset in
//	      the arena of the message-word vector holding it (uint32) and the
//	      bit shift of the digit in that word (uint32)
//	 1920 message schedule W[0..63] of nonce block 0, one vector per word
//	 6016 message schedule W[0..63] of nonce block 1 (if any)
//	10112 W[t]+K[t] of the constant blocks, 64 uint32s per block
//
// A vector is 64 bytes, 16 uint32s, lane i holding nonce base+i. j0 is the
// index of the first message word of nonce block 0 that holds a nonce
// digit: rounds 0..j0-1 are the same for every nonce and the Go side runs
// them once per layout.
//
// # One pass
//
//  1. Expand W[16..63] of the nonce blocks from their W[0..15].
//  2. Run rounds j0..63 of nonce block 0 from the saved start state: a loop
//     over groups of eight unrolled rounds whose register names rotate by
//     one per round, entered at round j0&7.
//  3. Run nonce block 1 the same way, if the digits reach into it.
//  4. Run the constant blocks with their broadcast W[t]+K[t].
//  5. Test the first digest word of every lane against the target mask
//     (VPTESTNMD into K1), dropping lanes past the end of the range on the
//     last pass.
//  6. Add 16 to every lane's ASCII nonce in place: 6 at the last digit, 1
//     plus its carry at the one before, then carry to the left while any
//     lane carries.
//  7. Return if some lane passed the test; the Go side checks the whole
//     target on the saved states and picks the lowest lane.
//
// # Reuse
//
// The round, schedule and feed-forward helpers (Round, Expand, FeedForward
// and the register and arena names) take their registers and memory as
// arguments and emit into the current avo function, so a second TEXT in
// this program (another message shape over the same arena idea) can call
// them.
package main

import (
	"fmt"

	"github.com/powchain/powchain/hasher/_asm/internal/simd"
	"github.com/powchain/powchain/hasher/_asm/sha256k"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

const (
	// VecBytes is the bytes of one vector: 16 lanes of 32 bits.
	VecBytes = 64
	// Lanes is the nonces per pass.
	Lanes = 16
)

// lay is the arena's layout for vectors of VecBytes.
var lay = simd.NewArena(VecBytes)

// VPTERNLOGD truth tables, for dst = f(dst, src2, src3) with the bits of
// the index being dst<<2 | src2<<1 | src3.
const (
	ternXor3 = 0x96 // dst ^ src2 ^ src3
	ternCh   = 0xCA // dst ? src2 : src3
	ternMaj  = 0xE8 // majority of the three
)

// State holds the eight state words; which register is which word rotates
// by one per round (see Name). T0..T3 are the round's temporaries.
var (
	State          = [8]VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7}
	T0, T1, T2, T3 = Z8, Z9, Z10, Z11
)

// Name returns the register holding state word k (0 = a ... 7 = h) at
// round i of a group of eight.
func Name(i, k int) VecPhysical { return State[((k-i)%8+8)%8] }

// Sigma emits dst = ror(x, r0) ^ ror(x, r1) ^ ror(x, r2), or with r2's
// rotation replaced by a right shift when shift is set (the small σ).
// It clobbers u and v.
func Sigma(x, dst, u, v VecPhysical, r0, r1, r2 uint8, shift bool) {
	VPRORD(U8(r0), x, dst)
	VPRORD(U8(r1), x, u)
	if shift {
		VPSRLD(U8(r2), x, v)
	} else {
		VPRORD(U8(r2), x, v)
	}
	VPTERNLOGD(U8(ternXor3), v, u, dst)
}

// Round emits round i (0..7) of a group on the registers Name(i, *);
// addWK adds W[t]+K[t] to the h register it is given. It clobbers T0..T3.
func Round(i int, addWK func(h VecPhysical)) {
	a, b, c, d := Name(i, 0), Name(i, 1), Name(i, 2), Name(i, 3)
	e, f, g, h := Name(i, 4), Name(i, 5), Name(i, 6), Name(i, 7)

	// T1 = h + W+K + Σ1(e) + Ch(e, f, g); d += T1 becomes the next e.
	// Σ1 first: e to the next e is the round's longest path.
	addWK(h)
	Sigma(e, T0, T1, T2, 6, 11, 25, false)
	VMOVDQA32(e, T3)
	VPTERNLOGD(U8(ternCh), g, f, T3)
	VPADDD(T3, h, h)
	VPADDD(T0, h, h)
	VPADDD(h, d, d)
	// The new a = T1 + Σ0(a) + Maj(a, b, c), in h's register.
	Sigma(a, T0, T1, T2, 2, 13, 22, false)
	VMOVDQA32(a, T3)
	VPTERNLOGD(U8(ternMaj), c, b, T3)
	VPADDD(T3, T0, T0)
	VPADDD(T0, h, h)
}

// Expand emits the expansion of W[16..63] of one block whose W[0..15]
// vectors are at w (a register pointing at W[0]); it clobbers cursor and
// count and Z8..Z21, and leaves cursor at W[64].
func Expand(w, cursor, count Register) {
	LEAQ(Mem{Base: w, Disp: 16 * VecBytes}, cursor)
	MOVQ(U32(6), count)
	last := [2]VecPhysical{Z20, Z21} // W[t-2] and W[t-1], alternating
	VMOVDQU32(Mem{Base: cursor, Disp: -2 * VecBytes}, last[0])
	VMOVDQU32(Mem{Base: cursor, Disp: -1 * VecBytes}, last[1])
	loop := fmt.Sprintf("expand_%d", expandCount)
	expandCount++
	Label(loop)
	for i := 0; i < 8; i++ {
		at := func(back int) Mem { return Mem{Base: cursor, Disp: (i - back) * VecBytes} }
		x := last[i%2]
		// Alternate the temporaries so two words can be in flight.
		r := []VecPhysical{Z8, Z9, Z10, Z11, Z12, Z13, Z14}
		if i%2 == 1 {
			r = []VecPhysical{Z15, Z16, Z17, Z18, Z19, Z22, Z23}
		}
		s1, u, v, y, s0 := r[0], r[1], r[2], r[3], r[4]
		Commentf("W[t+%d] = σ1(W[t+%d]) + W[t+%d] + σ0(W[t+%d]) + W[t+%d]", i, i-2, i-7, i-15, i-16)
		Sigma(x, s1, u, v, 17, 19, 10, true)
		VMOVDQU32(at(15), y)
		Sigma(y, s0, u, v, 7, 18, 3, true)
		VPADDD(at(7), s1, s1)
		VPADDD(at(16), s0, s0)
		VPADDD(s0, s1, x)
		VMOVDQU32(x, at(0))
	}
	ADDQ(U32(8*VecBytes), cursor)
	DECQ(count)
	JNZ(LabelRef(loop))
}

var expandCount int

// FeedForward adds the vectors at ff to the state (in round-0 order) and
// stores the result, the state after the block, at save.
func FeedForward(ff Register, save Mem) {
	for k := 0; k < 8; k++ {
		VPADDD(Mem{Base: ff, Disp: k * VecBytes}, State[k], State[k])
		VMOVDQU32(State[k], save.Offset(k*VecBytes))
	}
}

func main() {
	for _, c := range []string{"amd64", "gc", "!purego", "!noasm"} {
		ConstraintExpr(c)
	}
	k := GLOBL("avx512K", RODATA|NOPTR)
	for t, v := range sha256k.K {
		DATA(4*t, U32(v))
	}
	consts := GLOBL("avx512Consts", RODATA|NOPTR)
	DATA(0, U32(Lanes%10)) // the nonce step's last digit
	DATA(4, U32(Lanes/10)) // and the digit before it
	DATA(8, U32(1))        // a carry
	DATA(12, U32(0xff))    // byte mask
	DATA(16, U32('9'))     // largest digit
	DATA(20, U32(10))      // decimal base
	if Lanes >= 100 {
		panic("the nonce increment assumes a two-digit step")
	}
	mine(k, consts)
	Generate()
}

// mine emits avx512Search.
func mine(k, consts Mem) {
	simd.Text("avx512Search",
		"avx512Search runs up to passes passes of sixteen nonces over the layout",
		"in the arena (see avx512_amd64.go) and returns the passes done and the",
		"lanes of the last one whose first digest word passed the target mask, 0",
		"if none did. lastMask masks the lanes of the last pass.",
	)

	arena, passes, lastMask, pass := RDI, R8, R10, R9
	wptr, kend, kptr, ffptr, nblk, wkptr, cnt := RSI, RCX, R11, R12, R13, RBX, RDX
	simd.LoadArgs(arena, passes, lastMask, pass)
	mem := func(disp int) Mem { return Mem{Base: arena, Disp: disp} }

	Label("pass")

	Comment("1. Expand the message schedules of the nonce blocks.")
	LEAQ(mem(lay.W0), ffptr)
	Expand(ffptr, wptr, cnt)
	CMPQ(mem(simd.HdrNonceBlocks), U8(2))
	JNE(LabelRef("expanded"))
	LEAQ(mem(lay.W1), ffptr)
	Expand(ffptr, wptr, cnt)
	Label("expanded")

	Comment("2. Nonce block 0 from round j0: enter the round loop at j0&7.")
	LEAQ(mem(lay.W0), wptr)
	LEAQ(mem(simd.OffMid), ffptr)
	MOVQ(mem(simd.HdrNonceBlocks), nblk)
	ADDQ(mem(simd.HdrWIdx0), wptr)
	LEAQ(k, kptr)
	ADDQ(mem(simd.HdrKIdx0), kptr)
	LEAQ(k.Offset(64*4), kend)
	simd.EnterAt(mem(simd.HdrRot0), func(r int) {
		for j := 0; j < 8; j++ {
			VMOVDQU32(mem(lay.Start+j*VecBytes), Name(r, j))
		}
	})

	Comment("Rounds of a nonce block: W[t] per lane from the schedule, K[t] broadcast.")
	Label("vblock")
	for i := 0; i < 8; i++ {
		Label(fmt.Sprintf("vround%d", i))
		Round(i, func(h VecPhysical) {
			VPADDD(Mem{Base: wptr, Disp: i * VecBytes}, h, h)
			VPADDD_BCST(Mem{Base: kptr, Disp: 4 * i}, h, h)
		})
	}
	ADDQ(U32(8*VecBytes), wptr)
	ADDQ(U8(8*4), kptr)
	CMPQ(kptr, kend)
	JB(LabelRef("vblock"))
	FeedForward(ffptr, mem(lay.Save))
	LEAQ(mem(lay.Save), ffptr)
	Comment("3. Nonce block 1, if any.")
	LEAQ(k, kptr) // wptr is at W[0] of nonce block 1 already
	DECQ(nblk)
	JNZ(LabelRef("vblock"))

	Comment("4. The constant blocks: broadcast W[t]+K[t], no schedule.")
	MOVQ(mem(simd.HdrConstBlocks), nblk)
	TESTQ(nblk, nblk)
	JZ(LabelRef("check"))
	LEAQ(mem(lay.WK), wkptr)
	Label("cblock")
	MOVQ(U32(8), cnt)
	Label("cloop")
	for i := 0; i < 8; i++ {
		Round(i, func(h VecPhysical) {
			VPADDD_BCST(Mem{Base: wkptr, Disp: 4 * i}, h, h)
		})
	}
	ADDQ(U8(8*4), wkptr)
	DECQ(cnt)
	JNZ(LabelRef("cloop"))
	FeedForward(ffptr, mem(lay.Save))
	DECQ(nblk)
	JNZ(LabelRef("cblock"))

	Comment("5. Which lanes' first digest word passes the mask?")
	Label("check")
	lanes := wkptr // done with
	VPTESTNMD_BCST(mem(simd.HdrMask), Z0, K1)
	KMOVW(K1, lanes.As32())
	simd.CountPass(lanes, pass, passes, lastMask, Lanes)

	increment(consts, arena, wptr, cnt)

	simd.EndPass(lanes, pass, passes)
}

// increment emits step 6: add Lanes to every lane's ASCII nonce. Digit by
// digit from the last one, v is the message-word vector holding the digit
// and c the amount to add at it: the step's digit plus the carry out of
// the digit after it. After the step's two digits only carries are left,
// and the loop stops at the first digit where no lane carries.
func increment(consts Mem, arena, dptr, cnt Register) {
	Comment(fmt.Sprintf("6. Add %d to every lane's nonce, carrying while any lane carries.", Lanes))
	c, one, ff, nine, ten, v, tt := Z8, Z9, Z10, Z11, Z12, Z13, Z14
	count := X15
	carry := K2
	VPBROADCASTD(consts.Offset(0), c)
	VPBROADCASTD(consts.Offset(8), one)
	VPBROADCASTD(consts.Offset(12), ff)
	VPBROADCASTD(consts.Offset(16), nine)
	VPBROADCASTD(consts.Offset(20), ten)
	LEAQ(Mem{Base: arena, Disp: lay.Digit}, dptr)
	MOVQ(Mem{Base: arena, Disp: simd.HdrDigits}, cnt)

	digit := func() {
		MOVL(Mem{Base: dptr}, EAX)
		VMOVD(Mem{Base: dptr, Disp: 4}, count)
		VMOVDQU32(Mem{Base: arena, Index: RAX, Scale: 1}, v)
		VPSLLD(count, c, tt) // v += c << shift
		VPADDD(tt, v, v)
		VPSRLD(count, v, tt) // the digit
		VPANDD(ff, tt, tt)
		VPCMPUD(U8(6), nine, tt, carry) // lanes whose digit passed '9'
		VPSLLD(count, ten, tt)          // take 10 from them
		VPSUBD(tt, v, carry, v)
		VMOVDQU32(v, Mem{Base: arena, Index: RAX, Scale: 1})
		ADDQ(U8(8), dptr)
	}
	Comment("The last digit gets the step's last digit.")
	digit()
	DECQ(cnt)
	JZ(LabelRef("digits_done"))
	Comment("The digit before it gets the step's first digit plus the carry.")
	VPBROADCASTD(consts.Offset(4), c)
	VPADDD(one, c, carry, c)
	Label("digit")
	digit()
	KORTESTW(carry, carry)
	JZ(LabelRef("digits_done"))
	Comment("Carry one into the next digit to the left, where it carried.")
	VMOVDQA32_Z(one, carry, c)
	DECQ(cnt)
	JNZ(LabelRef("digit"))
	Label("digits_done")
}
