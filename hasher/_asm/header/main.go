// Command header generates hasher/header_amd64.s: the Bitcoin header
// (sha256d) kernels for SHA-NI and AVX2.
//
// Run it from hasher/_asm (see the go:generate line in
// hasher/header_amd64.go):
//
//	go run ./header -out ../header_amd64.s -stubs ../header_stub_amd64.go -pkg hasher
//
// # The work per nonce
//
// A header is 80 bytes: its first 64 bytes are one block whose state (the
// midstate) the Go side computes once per header. What is left per nonce
// is the second block of the first hash, whose words are the merkle root's
// last 4 bytes, nTime, nBits, the nonce (W[3]), then fixed padding, and
// one compression of the second hash, whose block is the 32-byte first
// digest and fixed padding. Both kernels skip what does not depend on the
// nonce, and stop the second hash once the word that becomes the last
// digest word h7 is known: in the number Bitcoin compares (the digest
// read little-endian) h7 is the most significant word, so it decides all
// but about one hash in 2^32 against a real target. h7 is e61 + H7: e
// after round 60.
//
// # SHA-NI: shaniHeader<L>
//
// L lanes (nonces base..base+L-1) go through each phase together, their
// SHA256RNDS2 interleaved so that the unit always has an independent
// message to work on. A pass
//
//  1. expands every lane's first-hash schedule (SHA256MSG1/2) from the
//     header's fixed words and the lane's nonce into W+K in scratch
//     memory; groups 1..3 (W[4..15]) are the same for every nonce and come
//     from the context;
//  2. runs steps 2..31 of the first hash from the state after rounds
//     0..3 with W[3] = 0 (the Go side runs those once) plus the lane's
//     W[3] in A and E: W[3] enters round 3 only through T1, which both A
//     and E receive. Then it adds the midstate;
//  3. turns each lane's state into the second hash's W[0..7], then
//     expands that schedule (W[8..15] are constant and their W+K come from
//     a table);
//  4. runs steps 0..30 of the second hash from the initial state: after
//     62 rounds the F slot of ABEF holds e61;
//  5. tests h7 = e61 + H7, byte-swapped, against the target's top word
//     and returns the lanes that pass, for the Go side to finish.
//
// Per nonce that is 61 SHA256RNDS2 (a plain sha256d from a midstate runs
// 64), 24 SHA256MSG1 and 24 SHA256MSG2.
//
// Lanes: 1 (as a reference) and 4; two lanes run shaniHeaderR2
// (shanireg.go), which keeps the schedules in registers, expanded beside
// the rounds instead of in phases between them, and runs the second
// hash's round 60 in general-purpose registers: 60 SHA256RNDS2 a nonce.
// (The same round 60 made shaniHeader4 5 to 8% slower on Intel Emerald
// Rapids, so it has SHA256RNDS2 bring round 61 along.)
//
// # AVX-512: avx512Header
//
// The AVX2 kernel with 16 lanes in ZMM registers; see avx512.go.
//
// # AVX2: avx2Header
//
// Eight nonces per pass, one per 32-bit lane of a YMM register, the rounds
// unrolled in full (the register names rotate with the round, so no moves):
//
//   - the first hash starts from the state after rounds 0..2, which read
//     only W[0..2]; W[3] is the byte-swapped nonce, and it enters round 3
//     only through T1, so once per call the kernel works out round 3 up
//     to that addition, and the parts of rounds 4..6 made only of words
//     from before it (h+W+K, and f^g of round 4): a pass starts at round
//     4 with two additions; rounds 4..15 and the constant schedule words
//     add a precomputed W[t]+K[t];
//   - a schedule word that depends on the nonce is computed just before
//     its round from its nonce-dependent terms only, plus the precomputed
//     sum of the others (which words those are is the same rule as
//     HeaderVar in hasher/header.go);
//   - the second hash's round 0 starts from constants, so it is two
//     additions; in rounds 1..3 h is still a word of the initial state,
//     folded with K[t] (and round 1's f^g and b^c are constants);
//     W[8..15] are constants, folded into W+K and into the later schedule
//     words at generation time;
//   - the second hash ends at round 60: e61 is a57 plus round 60's T1, so
//     rounds 57..60 compute only e.
//
// Registers: see avxSt. Counted per pass (8 nonces) in the loop: 5,790
// vector ALU instructions, 724 per nonce, where two full compressions
// the way lanes-limit (shared/tools) does them take 828.
package main

import (
	"flag"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/powchain/powchain/hasher/_asm/internal/gofile"
	"github.com/powchain/powchain/hasher/_asm/sha256k"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var iv = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

var shaniLanes = []int{1, 4}

// layout names the Go file the AVX2 and AVX-512 arenas' layout is
// written to, for their Go side (vecHeaderSearcher in header_amd64.go).
var layout = flag.String("layout", "", "write the vector arenas' layout as Go constants to this file")

func main() {
	flag.Parse()
	if *layout != "" {
		if err := gofile.Write(*layout, "amd64", "hasher", "go run ./header -layout "+filepath.Base(*layout),
			"The layouts of the header kernels' memory (see _asm/header/main.go):\nthe SHA-NI context in uint32s, its scratch per lane in bytes, and the\nAVX2 and AVX-512 arenas in vectors of the kernel's lane count.", []gofile.Const{
				{Name: "shaniHdrPre", Value: sctxPre / 4, Doc: "state after rounds 0..3 of block 2 with W[3] = 0: ABEF, CDGH"},
				{Name: "shaniHdrMid", Value: sctxMid / 4, Doc: "midstate: ABEF, CDGH"},
				{Name: "shaniHdrWK", Value: sctxWK / 4, Doc: "W[t]+K[t] of block 2, t = 4..15"},
				{Name: "shaniHdrMsg", Value: sctxMsg / 4, Doc: "W[0..3] of block 2 with W[3] = 0, then W[4..15]"},
				{Name: "shaniHdrCtx", Value: sctxSize / 4, Doc: "the context's size"},
				{Name: "shaniHdrLane", Value: slSize, Doc: "scratch bytes per lane"},
				{Name: "vecHdrPre", Value: aPre / vec, Doc: "8 vectors: the state after rounds 0..2 of block 2"},
				{Name: "vecHdrMid", Value: aMid / vec, Doc: "8 vectors: the midstate"},
				{Name: "vecHdrNonce", Value: aNonce / vec, Doc: "the nonce of each lane"},
				{Name: "vecHdrTop", Value: aTop / vec, Doc: "the target's top word"},
				{Name: "vecHdrCK", Value: aCK / vec, Doc: "64 vectors: W[t]+K[t] (constant t) or K[t] (t that vary)"},
				{Name: "vecHdrCW", Value: aCW / vec, Doc: "64 vectors: the constant part of W[t], t >= 16 that vary"},
				{Name: "vecHdrSize", Value: aSize / vec, Doc: "the arena's size"},
			}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, c := range []string{"amd64", "gc", "!purego", "!noasm"} {
		ConstraintExpr(c)
	}
	shaniData()
	for _, L := range shaniLanes {
		shaniHeader(L)
	}
	shaniHeaderR2()
	avx2Data()
	avx2Header()
	avx512Header()
	Generate()
}

// ---------------------------------------------------------------- SHA-NI

// The SHA-NI context, in bytes; main writes it for the Go side (shaniHdr*
// in header_layout_amd64.go).
const (
	sctxPre  = 0   // state after rounds 0..3 of block 2 with W[3] = 0: ABEF, CDGH
	sctxMid  = 32  // midstate: ABEF, CDGH
	sctxWK   = 64  // W[t]+K[t] of block 2, t = 4..15
	sctxMsg  = 112 // W[0..3] of block 2 with W[3] = 0, then W[4..15]: 4 groups
	sctxSize = 176
)

// Per-lane scratch, in bytes.
const (
	slSched1 = 0   // W+K of the first hash's block 2 (groups 0, 4..15 used)
	slSched2 = 256 // W+K of the second hash (groups 0, 1, 4..15 used)
	slMsg2   = 512 // the second hash's W[0..7]
	slSize   = 544
)

var (
	shK     Mem // K[0..63]
	shIV    Mem // initial state, ABEF and CDGH
	shPad   Mem // the second hash's W[8..11] and W[12..15]
	shPadWK Mem // W[t]+K[t] of the second hash, t = 8..15
)

func shaniData() {
	shK = GLOBL("hdrShaniK", RODATA|NOPTR)
	for i, k := range sha256k.K {
		DATA(4*i, U32(k))
	}
	shIV = GLOBL("hdrShaniIV", RODATA|NOPTR)
	ni := []uint32{iv[5], iv[4], iv[1], iv[0], iv[7], iv[6], iv[3], iv[2]}
	for i, v := range ni {
		DATA(4*i, U32(v))
	}
	shPad = GLOBL("hdrShaniPad", RODATA|NOPTR)
	pad := hash2Words()
	for i := 8; i < 16; i++ {
		DATA(4*(i-8), U32(pad[i]))
	}
	shPadWK = GLOBL("hdrShaniPadWK", RODATA|NOPTR)
	for i := 8; i < 16; i++ {
		DATA(4*(i-8), U32(pad[i]+sha256k.K[i]))
	}
}

// hash2Words returns the second hash's message words with W[0..7] zero:
// the pad bit after 32 bytes and the length, 256 bits.
func hash2Words() (w [16]uint32) {
	w[8] = 0x80000000
	w[15] = 256
	return w
}

var (
	shCtx     = R8
	shScratch = RBX
	shNonce   = R9  // nonce of lane 0 this pass (32 bits used)
	shPasses  = R10 // passes asked for
	shDone    = R11 // passes done
	shTop     = R12 // the target's top word (32 bits used)
	shLanes   = R13 // lanes whose h7 passed
	shTmp     = RAX
	shTmp2    = RCX
)

func shS0(i int) VecPhysical { return xmm(1 + 2*i) }
func shS1(i int) VecPhysical { return xmm(2 + 2*i) }

func xmm(n int) VecPhysical {
	return []VecPhysical{X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15}[n]
}

// shaniSchedRegs are two sets of schedule registers (m0..m3, temporary)
// for two lanes expanded side by side; no lane state is live meanwhile.
var shaniSchedRegs = [2][5]VecPhysical{{X1, X2, X3, X4, X5}, {X6, X7, X8, X9, X10}}

// shaniAddMid emits the first hash's feed-forward: the midstate (in the
// context) added to the state of each of the L lanes.
func shaniAddMid(L int) {
	mid := Mem{Base: shCtx}.Offset(sctxMid)
	MOVOU(mid, X0)
	for i := 0; i < L; i++ {
		PADDD(X0, shS0(i))
	}
	MOVOU(mid.Offset(16), X0)
	for i := 0; i < L; i++ {
		PADDD(X0, shS1(i))
	}
}

func laneMem(i, off int) Mem { return Mem{Base: shScratch}.Offset(slSize*i + off) }

func shaniHeader(L int) {
	name := fmt.Sprintf("shaniHeader%d", L)
	TEXT(name, NOSPLIT, "func(ctx *[44]uint32, scratch *byte, nonce uint32, passes int, top uint32) (done int, lanes uint32)")
	if L == shaniLanes[0] {
		Doc(
			name+" hashes passes passes of L headers (L is the number in the",
			"name) with SHA-NI, lane i of a pass holding nonce nonce+L*pass+i",
			"(mod 2^32), and stops after the first pass in which some lane's",
			"last digest word h7, byte-swapped, is at most top. It returns the",
			"passes done and that pass's lanes as a bit mask (0 if none). ctx",
			"is the header's context (see header_amd64.go); scratch holds",
			"544*L bytes. passes >= 1.",
		)
	} else {
		Doc(fmt.Sprintf("%s is shaniHeader%d with %d lanes.", name, shaniLanes[0], L))
	}
	Pragma("noescape")
	Load(Param("ctx"), shCtx)
	Load(Param("scratch"), shScratch)
	Load(Param("nonce"), shNonce.As32())
	Load(Param("passes"), shPasses)
	Load(Param("top"), shTop.As32())
	XORQ(shDone, shDone)
	lbl := func(s string) string { return fmt.Sprintf("%s_%d", s, L) }
	ctx := func(off int) Mem { return Mem{Base: shCtx}.Offset(off) }

	Label(lbl("pass"))
	Comment("1. The first hash's block-2 schedules, two lanes at a time.")
	for first := 0; first < L; first += 2 {
		var progs [][]func()
		for j := 0; j < 2 && first+j < L; j++ {
			lane := first + j
			r := shaniSchedRegs[j]
			tmp := []GPPhysical{shTmp, shTmp2}[j].As32()
			load := func(g int) []func() {
				if g > 0 {
					return []func(){func() { MOVOU(ctx(sctxMsg+16*g), r[g]) }}
				}
				return []func(){
					func() { MOVOU(ctx(sctxMsg), r[0]) },
					func() { LEAL(Mem{Base: shNonce}.Offset(lane), tmp) },
					func() { BSWAPL(tmp) },
					func() { PINSRD(U8(3), tmp, r[0]) },
				}
			}
			store := func(g int) bool { return g >= 4 }
			progs = append(progs, shaniScheduleLane(r, load, store, slSize*lane+slSched1))
		}
		interleave(progs)
	}

	Comment("2. The first hash, steps 2..31, from the state after step 1 with W[3] = 0",
		"plus the nonce in A and E.")
	for i := 0; i < L; i++ {
		LEAL(Mem{Base: shNonce}.Offset(i), shTmp.As32())
		BSWAPL(shTmp.As32())
		shaniStartHash1(i, ctx(sctxPre), shTmp.As32())
	}
	for step := 2; step < 32; step++ {
		g, half := step/2, step%2
		src := ctx(sctxWK + 16*(g-1) + 8*half)
		if g >= 4 {
			src = Mem{}
		}
		for i := 0; i < L; i++ {
			if src.Base != nil {
				if i == 0 {
					MOVQ(src, X0)
				}
			} else {
				MOVQ(laneMem(i, slSched1+16*g+8*half), X0)
			}
			shaniRnds2(i, step)
		}
	}
	Comment("Feed-forward: add the midstate.")
	shaniAddMid(L)

	Comment("3. The second hash's W[0..7] from each lane's state, then its schedules.")
	for i := 0; i < L; i++ {
		// ABEF = [F E B A] and CDGH = [H G D C] to [A B C D] and [E F G H].
		PSHUFD(U8(0x1b), shS0(i), X13) // [A B E F]
		PSHUFD(U8(0xb1), shS1(i), X14) // [G H C D]
		MOVO(X13, X15)
		PBLENDW(U8(0xf0), X14, X15) // [A B C D]
		PALIGNR(U8(8), X13, X14)    // [E F G H]
		MOVOU(X15, laneMem(i, slMsg2))
		MOVOU(X14, laneMem(i, slMsg2+16))
	}
	for first := 0; first < L; first += 2 {
		var progs [][]func()
		for j := 0; j < 2 && first+j < L; j++ {
			lane := first + j
			r := shaniSchedRegs[j]
			load := func(g int) []func() {
				if g < 2 {
					return []func(){func() { MOVOU(laneMem(lane, slMsg2+16*g), r[g]) }}
				}
				return []func(){func() { MOVOU(shPad.Offset(16*(g-2)), r[g]) }}
			}
			store := func(g int) bool { return g < 2 || g >= 4 }
			progs = append(progs, shaniScheduleLane(r, load, store, slSize*lane+slSched2))
		}
		interleave(progs)
	}

	Comment("4. The second hash, steps 0..30, from the initial state.")
	for i := 0; i < L; i++ {
		MOVOU(shIV, shS0(i))
		MOVOU(shIV.Offset(16), shS1(i))
	}
	for step := 0; step < 31; step++ {
		g, half := step/2, step%2
		for i := 0; i < L; i++ {
			if g == 2 || g == 3 {
				if i == 0 {
					MOVQ(shPadWK.Offset(16*(g-2)+8*half), X0)
				}
			} else {
				MOVQ(laneMem(i, slSched2+16*g+8*half), X0)
			}
			shaniRnds2(i, step)
		}
	}

	Comment("5. h7 = e61 + H7 is in dword 0 (F) of ABEF, now s1: test it.")
	XORL(shLanes.As32(), shLanes.As32())
	for i := 0; i < L; i++ {
		MOVD(shS1(i), shTmp.As32())
		ADDL(U32(iv[7]), shTmp.As32())
		BSWAPL(shTmp.As32())
		LEAL(Mem{Base: shLanes}.Offset(1<<i), shTmp2.As32())
		CMPL(shTmp.As32(), shTop.As32())
		CMOVLLS(shTmp2.As32(), shLanes.As32())
	}
	INCQ(shDone)
	ADDL(U8(L), shNonce.As32())
	endPass(shDone, shPasses, shLanes, lbl("pass"), lbl("out"), false)
}

// endPass emits the end of a header kernel's pass, after done counts it:
// return done and lanes if some lane passed or no pass is left, else go
// back to label pass. vzero clears the vector registers' upper halves
// before returning (the AVX kernels).
func endPass(done, passes, lanes GPPhysical, pass, out string, vzero bool) {
	TESTL(lanes.As32(), lanes.As32())
	JNZ(LabelRef(out))
	CMPQ(done, passes)
	JB(LabelRef(pass))
	Label(out)
	Store(done, ReturnIndex(0))
	Store(lanes.As32(), ReturnIndex(1))
	if vzero {
		VZEROUPPER()
	}
	RET()
}

// shaniRnds2 emits SHA256RNDS2 step number step (two rounds) of lane i;
// the two state registers swap roles every step.
func shaniRnds2(i, step int) {
	if step%2 == 0 {
		SHA256RNDS2(X0, shS0(i), shS1(i))
	} else {
		SHA256RNDS2(X0, shS1(i), shS0(i))
	}
}

// shaniStartHash1 loads lane i's state for the first hash's round 4 from
// pre, the state after rounds 0..3 with W[3] = 0, and adds the lane's
// W[3] (the byte-swapped nonce, in w3): W[3] enters round 3 only through
// T1, which both A and E receive, so it goes into dwords 3 (A) and 1 (E)
// of ABEF. Clobbers X0. After an even number of steps ABEF is in s0.
func shaniStartHash1(i int, pre Mem, w3 Register) {
	MOVD(w3, X0)
	PSHUFD(U8(0x11), X0, X0) // [0 w3 0 w3]
	MOVOU(pre, shS0(i))
	PADDD(X0, shS0(i))
	MOVOU(pre.Offset(16), shS1(i))
}

// interleave emits several instruction lists one instruction of each at a
// time.
func interleave(progs [][]func()) {
	for n := 0; ; n++ {
		emitted := false
		for _, p := range progs {
			if n < len(p) {
				p[n]()
				emitted = true
			}
		}
		if !emitted {
			return
		}
	}
}

// shaniScheduleLane returns the instructions expanding one lane's schedule
// into W+K at scratch+dst: load(g) loads message group g (W[4g..4g+3]) into
// r[g]; store(g) says whether group g's W+K is stored.
func shaniScheduleLane(r [5]VecPhysical, load func(g int) []func(), store func(g int) bool, dst int) []func() {
	var ops []func()
	m, t := r[:4], r[4]
	wk := func(g int) {
		if !store(g) {
			return
		}
		ops = append(ops,
			func() { MOVO(m[g%4], t) },
			func() { PADDD(shK.Offset(16*g), t) },
			func() { MOVOU(t, Mem{Base: shScratch}.Offset(dst+16*g)) })
	}
	for g := 0; g < 4; g++ {
		ops = append(ops, load(g)...)
		wk(g)
	}
	for g := 4; g < 16; g++ {
		w4, w3, w2, w1 := m[(g-4)%4], m[(g-3)%4], m[(g-2)%4], m[(g-1)%4]
		ops = append(ops,
			func() { SHA256MSG1(w3, w4) },
			func() { MOVO(w1, t) },
			func() { PALIGNR(U8(4), w2, t) },
			func() { PADDD(t, w4) },
			func() { SHA256MSG2(w1, w4) })
		wk(g)
	}
	return ops
}

// ------------------------------------------------------------------ AVX2

// The AVX2 arena, in bytes from its 32-byte aligned start; main writes it
// for the Go side (vecHdr* in header_layout_amd64.go). Every entry is a vector of 8 uint32s.
//
// The AVX-512 kernel's arena has the same parts, in vectors of 64 bytes
// (zvec).
const (
	vec      = 32
	aPre     = 0              // 8 vectors: state after rounds 0..2 of block 2
	aMid     = 8 * vec        // 8 vectors: the midstate
	aNonce   = 16 * vec       // nonce of each lane
	aTop     = 17 * vec       // the target's top word
	aCK      = 18 * vec       // 64 vectors: W[t]+K[t] (constant t) or K[t] (t that vary)
	aCW      = 82 * vec       // 64 vectors: the constant part of W[t], t >= 16 that vary
	aW1      = 146 * vec      // 64 vectors: W[t] of block 2 (varying t only)
	aW2      = 210 * vec      // 64 vectors: W[t] of the second hash
	aSize    = 274 * vec      // bytes
	aConsts2 = "hdrAVX2Const" // the second hash's constants (RODATA)
)

// headerVar is HeaderVar of hasher/header.go: which words of the first
// hash's block 2 depend on the nonce.
var headerVar = func() (v [64]bool) {
	v[3] = true
	for t := 16; t < 64; t++ {
		v[t] = v[t-2] || v[t-7] || v[t-15] || v[t-16]
	}
	return v
}()

// hash2Var says which words of the second hash vary (depend on the first
// digest): W[0..7] and every word made from one of them.
var hash2Var = func() (v [64]bool) {
	for t := 0; t < 8; t++ {
		v[t] = true
	}
	for t := 16; t < 64; t++ {
		v[t] = v[t-2] || v[t-7] || v[t-15] || v[t-16]
	}
	return v
}()

// The AVX2 registers. The loop runs from the legacy decoders (it is far
// larger than the decoded-uop cache), so its size in bytes counts: an
// instruction is a byte shorter (a 2-byte VEX prefix) when the register in
// its ModRM r/m slot (Go's first source, a shift's source) is Y0..Y7. The
// temporaries, which are most often in that slot, get the low registers,
// the state the high ones.
var (
	avxSt          = [8]VecPhysical{Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
	avxBCAB        = [2]VecPhysical{Y6, Y7}
	at0, at1, at2  = Y0, Y1, Y2
	aw0, aw1, aw2  = Y3, Y4, Y5
	arena          = RDI
	avxConst2      Mem
	avxConst2Table = constTable{index: map[uint32]int{}}
	avxBswap       Mem
	avxCount       int
)

// avxConstVec returns the RODATA vector holding v in every lane.
func avxConstVec(v uint32) Mem {
	i, ok := avxConst2Table.index[v]
	if !ok {
		panic(fmt.Sprintf("constant %#x not in the table", v))
	}
	return avxConst2.Offset(vec * i)
}

// constTable lists the distinct constants of a kernel's RODATA table in
// the order they were first added, and where each one is.
type constTable struct {
	index map[uint32]int
	vals  []uint32
}

func (c *constTable) add(v uint32) {
	if _, ok := c.index[v]; !ok {
		c.index[v] = len(c.vals)
		c.vals = append(c.vals, v)
	}
}

// addHash2 adds the constants both vector kernels' tables start with:
// K[t], W[t]+K[t] of the first hash's rounds 8..15, the second hash's
// constant schedule parts and its a and e constants, and the initial
// state.
func (c *constTable) addHash2() {
	wk, cw, ca, ce := hash2Consts()
	for t := 0; t < 64; t++ {
		c.add(sha256k.K[t])
		if t >= 8 && t < 16 {
			c.add(wk[t])
		}
		if t >= 16 && hash2Var[t] && cw[t] != 0 {
			c.add(cw[t])
		}
	}
	c.add(ca)
	c.add(ce)
	for _, v := range iv {
		c.add(v)
	}
}

func rotr(x uint32, n int) uint32 { return bits.RotateLeft32(x, -n) }
func sig0(x uint32) uint32        { return rotr(x, 7) ^ rotr(x, 18) ^ x>>3 }
func sig1(x uint32) uint32        { return rotr(x, 17) ^ rotr(x, 19) ^ x>>10 }

// hash2Consts returns, for the second hash: wk[t] = W[t]+K[t] for the
// constant t < 16, cw[t] the constant part of the varying W[t] (t >= 16),
// and the state after round 0 as a = W[0]+ca, e = W[0]+ce.
func hash2Consts() (wk, cw [64]uint32, ca, ce uint32) {
	w := hash2Words()
	var full [64]uint32
	copy(full[:], w[:])
	for t := 0; t < 16; t++ {
		wk[t] = w[t] + sha256k.K[t]
	}
	for t := 16; t < 64; t++ {
		var c uint32
		if !hash2Var[t-2] {
			c += sig1(full[t-2])
		}
		if !hash2Var[t-7] {
			c += full[t-7]
		}
		if !hash2Var[t-15] {
			c += sig0(full[t-15])
		}
		if !hash2Var[t-16] {
			c += full[t-16]
		}
		cw[t] = c
		if !hash2Var[t] {
			full[t] = c
		}
	}
	a, b, c, d, e, f, g, h := iv[0], iv[1], iv[2], iv[3], iv[4], iv[5], iv[6], iv[7]
	t1 := h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (^e & g)) + sha256k.K[0]
	t2 := (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
	return wk, cw, t1 + t2, d + t1
}

// hash2Folded returns the constants the second hash's first and last
// rounds fold together: b^c and f^g of round 1, h+K[t] of rounds 1..3
// (where h is still a word of the initial state), and cw[t]+K[t] of the
// words of the last rounds that no later word reads.
func hash2Folded() []uint32 {
	_, cw, _, _ := hash2Consts()
	vals := []uint32{iv[0] ^ iv[1], iv[4] ^ iv[5]}
	for t := 1; t <= 3; t++ {
		vals = append(vals, iv[7-t]+sha256k.K[t])
	}
	for t := 16; t <= avx2Last2; t++ {
		if !usedLater(t, &hash2Var, avx2Last2) {
			vals = append(vals, cw[t]+sha256k.K[t])
		}
	}
	return vals
}

// avx2Last2 is the second hash's last round: it makes e61.
const avx2Last2 = 60

func avx2Data() {
	c := &avxConst2Table
	c.addHash2()
	c.add(8)
	for _, v := range hash2Folded() {
		c.add(v)
	}
	avxConst2 = GLOBL(aConsts2, RODATA|NOPTR)
	for i, v := range c.vals {
		for l := 0; l < 8; l++ {
			DATA(vec*i+4*l, U32(v))
		}
	}
	avxBswap = GLOBL("hdrAVX2Bswap", RODATA|NOPTR)
	for l := 0; l < 2; l++ {
		DATA(16*l, U64(0x0405060700010203))
		DATA(16*l+8, U64(0x0c0d0e0f08090a0b))
	}
}

// aname returns the register holding state word k (0 = a ... 7 = h) at
// round t.
func aname(t, k int) VecPhysical { return avxSt[((k-t)%8+8)%8] }

func amem(off int) Mem { return Mem{Base: arena}.Offset(off) }

// low says whether r is one of Y0..Y7.
func low(r Op) bool {
	p, ok := r.(Physical)
	return ok && p.PhysicalIndex() < 8
}

// vop emits a commutative op (VPXOR, VPADDD, VPAND) of x and y into dst,
// with a low register in the r/m slot when one of them is (see avxSt).
// (avo declares VPADDD variadic, VPXOR and VPAND not.)
func vop(op any, x, y, dst Op) {
	if !low(x) && low(y) {
		x, y = y, x
	}
	switch op := op.(type) {
	case func(Op, Op, Op):
		op(x, y, dst)
	case func(...Op):
		op(x, y, dst)
	default:
		panic(fmt.Sprintf("vop: %T", op))
	}
}

// avxShiftXor emits into dst the XOR of x's right shifts by rs and left
// shifts by ls (each list ascending), one shift chained from the last
// (x>>11 is (x>>6)>>5), so that most shifts read a low temporary (clobbers
// at1, at2; dst is neither, nor x).
func avxShiftXor(x, dst VecPhysical, rs, ls []uint8) {
	VPSRLD(U8(rs[0]), x, dst)
	VPSLLD(U8(ls[0]), x, at1)
	vop(VPXOR, at1, dst, dst)
	for i := 1; i < max(len(rs), len(ls)); i++ {
		if i < len(rs) {
			VPSRLD(U8(rs[i]), x, at1)
		}
		if i < len(ls) {
			VPSLLD(U8(ls[i]), x, at2)
		}
		if i < len(rs) && i < len(ls) {
			vop(VPXOR, at2, at1, at1)
			vop(VPXOR, at1, dst, dst)
		} else if i < len(rs) {
			vop(VPXOR, at1, dst, dst)
		} else {
			vop(VPXOR, at2, dst, dst)
		}
	}
}

// avxBigSigma emits x's Σ with rotations r0 < r1 < r2 into at0 (clobbers
// at1, at2).
func avxBigSigma(x VecPhysical, r0, r1, r2 uint8) {
	avxShiftXor(x, at0, []uint8{r0, r1, r2}, []uint8{32 - r2, 32 - r1, 32 - r0})
}

// avxSmallSigma emits σ of x (rotations r0 < r1, shift s < r0) into dst
// (clobbers at1, at2).
func avxSmallSigma(x, dst VecPhysical, r0, r1, s uint8) {
	avxShiftXor(x, dst, []uint8{s, r0, r1}, []uint8{32 - r1, 32 - r0})
}

// avxRound emits round t; addWK adds W[t]+K[t] to h (or, where h is a
// constant, sets h to h+W[t]+K[t]). fg, when not nil, holds f^g (a
// constant; f's register then need not hold f). Without needA it
// computes only the new e (d + T1), for the second hash's last rounds.
func avxRound(t int, addWK func(h VecPhysical), needA bool, fg Op) {
	a, b, d, e, f, g, h := aname(t, 0), aname(t, 1), aname(t, 3), aname(t, 4), aname(t, 5), aname(t, 6), aname(t, 7)
	bc, ab := avxBCAB[t%2], avxBCAB[(t+1)%2]
	addWK(h)
	avxBigSigma(e, 6, 11, 25)
	if fg != nil {
		vop(VPAND, fg, e, at1)
	} else {
		vop(VPXOR, g, f, at1)
		vop(VPAND, e, at1, at1)
	}
	vop(VPXOR, g, at1, at1)
	vop(VPADDD, at1, h, h)
	vop(VPADDD, at0, h, h)
	vop(VPADDD, h, d, d)
	if !needA {
		return
	}
	avxBigSigma(a, 2, 13, 22)
	vop(VPXOR, b, a, ab)
	vop(VPAND, ab, bc, bc)
	vop(VPXOR, b, bc, bc)
	vop(VPADDD, bc, at0, at0)
	vop(VPADDD, at0, h, h)
}

// avxSchedule emits W[t] (t >= 16) of a schedule into aw1 from its varying
// terms, stored at base (one vector per word), plus the constant part at
// cw (if any), and stores it when store.
func avxSchedule(t int, isVar *[64]bool, base int, cw *Mem, store bool) {
	w := func(i int) Mem { return amem(base + vec*i) }
	var have bool
	acc := func(x VecPhysical) {
		if !have {
			if x != aw1 {
				VMOVDQA(x, aw1)
			}
			have = true
			return
		}
		vop(VPADDD, x, aw1, aw1)
	}
	if isVar[t-2] {
		VMOVDQA(w(t-2), aw0)
		avxSmallSigma(aw0, aw1, 17, 19, 10)
		have = true
	}
	if isVar[t-15] {
		VMOVDQA(w(t-15), aw0)
		avxSmallSigma(aw0, aw2, 7, 18, 3)
		acc(aw2)
	}
	for _, back := range []int{7, 16} {
		if isVar[t-back] {
			if !have {
				VMOVDQA(w(t-back), aw1)
				have = true
			} else {
				VPADDD(w(t-back), aw1, aw1)
			}
		}
	}
	if cw != nil {
		VPADDD(*cw, aw1, aw1)
	}
	if store {
		VMOVDQA(aw1, w(t))
	}
}

// usedLater says whether varying word t of a schedule is read by a later
// varying word up to last.
func usedLater(t int, isVar *[64]bool, last int) bool {
	for _, d := range []int{2, 7, 15, 16} {
		if u := t + d; u <= last && u >= 16 && isVar[u] {
			return true
		}
	}
	return false
}

func avx2Header() {
	TEXT("avx2Header", NOSPLIT, "func(arena *uint32, passes int) (done int, lanes uint32)")
	Pragma("noescape")
	Doc(
		"avx2Header hashes passes passes of eight headers with AVX2, lane i",
		"of a pass holding the nonce in the arena's nonce vector, which it",
		"advances by 8 per pass, and stops after the first pass in which some",
		"lane's last digest word h7, byte-swapped, is at most the arena's top",
		"word. It returns the passes done and that pass's lanes as a bit mask",
		"(0 if none). The arena (see header_amd64.go) is 32-byte aligned.",
	)
	Load(Param("arena"), arena)
	passes, done, lanes := RSI, RDX, RAX
	Load(Param("passes"), passes)
	XORQ(done, done)

	// Round 3 reads W[3], the nonce, only through T1: everything else in
	// it, and the parts of rounds 4..6 made of words from before round 3,
	// are the same for every nonce. They are worked out once per call into
	// W slots of block 2 that no pass uses (W[t] is stored only for the t
	// that vary: 3 and 18..63).
	slot := func(i int) Mem { return amem(aW1 + vec*i) }
	const (
		sE4  = 0 // d + T1 of round 3 without W[3]: e4 is this + W[3]
		sA4  = 1 // T1 + T2 of round 3 without W[3]: a4 is this + W[3]
		sBC4 = 2 // b^c of round 4 (a3^b3)
		sH4  = 4 // h+W+K of round 4 (h4 = g3)
		sFG4 = 5 // f^g of round 4 (e3^f3)
		sH5  = 6 // h+W+K of round 5 (h5 = f3)
		sH6  = 7 // h+W+K of round 6 (h6 = e3)
	)
	Comment("Per call: round 3 without W[3], and the constant parts of rounds 4..6.")
	for k := 0; k < 8; k++ {
		VMOVDQA(amem(aPre+k*vec), aname(3, k))
	}
	{
		a, b, c, d, e, f, g, h := aname(3, 0), aname(3, 1), aname(3, 2), aname(3, 3), aname(3, 4), aname(3, 5), aname(3, 6), aname(3, 7)
		VPADDD(amem(aCK+3*vec), h, h)
		avxBigSigma(e, 6, 11, 25)
		vop(VPXOR, g, f, at1)
		vop(VPAND, e, at1, at1)
		vop(VPXOR, g, at1, at1)
		vop(VPADDD, at1, h, h)
		vop(VPADDD, at0, h, h)
		vop(VPADDD, h, d, at1)
		VMOVDQA(at1, slot(sE4))
		avxBigSigma(a, 2, 13, 22)
		vop(VPXOR, b, a, at1)
		VMOVDQA(at1, slot(sBC4))
		vop(VPXOR, c, b, at2)
		vop(VPAND, at1, at2, at2)
		vop(VPXOR, b, at2, at2)
		vop(VPADDD, at2, at0, at0)
		vop(VPADDD, at0, h, h)
		VMOVDQA(h, slot(sA4))
		VPADDD(amem(aCK+4*vec), g, at1)
		VMOVDQA(at1, slot(sH4))
		vop(VPXOR, f, e, at1)
		VMOVDQA(at1, slot(sFG4))
		VPADDD(amem(aCK+5*vec), f, at1)
		VMOVDQA(at1, slot(sH5))
		VPADDD(amem(aCK+6*vec), e, at1)
		VMOVDQA(at1, slot(sH6))
	}

	Label("avx2hdr_pass")
	Comment("The first hash from round 4: W[3] is the nonce, byte-swapped.")
	VMOVDQA(amem(aNonce), aw1)
	VPSHUFB(avxBswap, aw1, aw1)
	VMOVDQA(aw1, amem(aW1+3*vec))
	VPADDD(slot(sA4), aw1, aname(4, 0))
	VPADDD(slot(sE4), aw1, aname(4, 4))
	// b c d = a3 a2 a1 and g = f3 from the state after round 2; f = e3 is
	// read in round 5 (as g) only, h is set by round 4's h+W+K.
	for _, k := range []int{1, 2, 3, 5, 6} {
		VMOVDQA(amem(aPre+(k-1)*vec), aname(4, k))
	}
	VMOVDQA(slot(sBC4), avxBCAB[4%2])
	for t := 4; t < 64; t++ {
		t := t
		var add func(h VecPhysical)
		var fg Op
		switch {
		case t == 4 || t == 5 || t == 6:
			s := map[int]int{4: sH4, 5: sH5, 6: sH6}[t]
			add = func(h VecPhysical) { VMOVDQA(slot(s), h) }
			if t == 4 {
				fg = slot(sFG4)
			}
		case !headerVar[t]:
			add = func(h VecPhysical) { VPADDD(amem(aCK+vec*t), h, h) }
		case t < 16:
			add = func(h VecPhysical) {
				VPADDD(amem(aW1+vec*t), h, h)
				VPADDD(amem(aCK+vec*t), h, h)
			}
		default:
			cw := amem(aCW + vec*t)
			avxSchedule(t, &headerVar, aW1, &cw, usedLater(t, &headerVar, 63))
			add = func(h VecPhysical) {
				VPADDD(aw1, h, h)
				VPADDD(amem(aCK+vec*t), h, h)
			}
		}
		Commentf("round %d", t)
		avxRound(t, add, true, fg)
	}
	Comment("Feed-forward: the first digest is the second hash's W[0..7].")
	for k := 0; k < 8; k++ {
		VPADDD(amem(aMid+k*vec), aname(64, k), aname(64, k))
		VMOVDQA(aname(64, k), amem(aW2+k*vec))
	}

	wk, cw, ca, ce := hash2Consts()
	Comment("The second hash: round 0 from the initial state is two additions.")
	w0 := aname(64, 0)
	// After round 0: a = W0+ca, e = W0+ce, b c d = IV a b c, f g h = IV e f g.
	VPADDD(avxConstVec(ce), w0, aname(1, 4))
	VPADDD(avxConstVec(ca), w0, aname(1, 0))
	// h = IV g is set by round 1's h+W+K.
	for _, ks := range [][2]int{{1, 0}, {2, 1}, {3, 2}, {5, 4}, {6, 5}} {
		VMOVDQU(avxConstVec(iv[ks[1]]), aname(1, ks[0]))
	}
	VMOVDQU(avxConstVec(iv[0]^iv[1]), avxBCAB[1%2])
	for t := 1; t <= avx2Last2; t++ {
		t := t
		var add func(h VecPhysical)
		var fg Op
		switch {
		case t <= 3:
			// h is still IV g, f, e in rounds 1, 2, 3.
			add = func(h VecPhysical) {
				VMOVDQA(amem(aW2+vec*t), h)
				VPADDD(avxConstVec(iv[7-t]+sha256k.K[t]), h, h)
			}
			if t == 1 {
				fg = avxConstVec(iv[4] ^ iv[5])
			}
		case t < 8:
			add = func(h VecPhysical) {
				VPADDD(amem(aW2+vec*t), h, h)
				VPADDD(avxConstVec(sha256k.K[t]), h, h)
			}
		case t < 16:
			add = func(h VecPhysical) { VPADDD(avxConstVec(wk[t]), h, h) }
		case !usedLater(t, &hash2Var, avx2Last2):
			// A word no later word reads: add K[t] with its constant part.
			m := avxConstVec(cw[t] + sha256k.K[t])
			avxSchedule(t, &hash2Var, aW2, &m, false)
			add = func(h VecPhysical) { VPADDD(aw1, h, h) }
		default:
			var c *Mem
			if cw[t] != 0 {
				m := avxConstVec(cw[t])
				c = &m
			}
			avxSchedule(t, &hash2Var, aW2, c, true)
			add = func(h VecPhysical) {
				VPADDD(aw1, h, h)
				VPADDD(avxConstVec(sha256k.K[t]), h, h)
			}
		}
		Commentf("round %d of the second hash", t)
		// e61 = a57 + T1 of round 60 (a57 is d in round 60): the last
		// round that needs its new a is 56.
		avxRound(t, add, t < avx2Last2-3, fg)
	}
	Comment("h7 = e61 + H7, byte-swapped, against the top word (unsigned).")
	e61 := aname(61, 4)
	VPADDD(avxConstVec(iv[7]), e61, e61)
	VPSHUFB(avxBswap, e61, e61)
	VMOVDQA(amem(aTop), aw0)
	VPMINUD(aw0, e61, aw1)
	VPCMPEQD(e61, aw1, aw1)
	VMOVMSKPS(aw1, lanes.As32())
	Comment("The next pass's nonces.")
	VMOVDQA(amem(aNonce), aw0)
	VPADDD(avxConstVec(8), aw0, aw0)
	VMOVDQA(aw0, amem(aNonce))
	INCQ(done)
	endPass(done, passes, lanes, "avx2hdr_pass", "avx2hdr_out", true)
}
