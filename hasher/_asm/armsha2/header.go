package main

import (
	"bytes"
	"fmt"
	"math/bits"

	"github.com/powchain/powchain/hasher/_asm/sha256k"
)

// The Bitcoin header (sha256d) kernels: L nonces of one 80-byte header per
// pass, one lane each, their SHA256H/SHA256H2 interleaved as in
// armsha2Mine<L>. armsha2HeaderR<L> (1 to 3 lanes) keep each lane's
// message schedule in four registers, deriving group g+4 in place of group
// g right after group g's W+K is made (headerReg); armsha2Header4 has no
// registers left for that (four lanes' states, copies and W+K fill 16) and
// writes the schedules to scratch memory first (header). The work is the
// same; the steps below are those of armsha2Header4.
//
// # What a pass does, and what it skips
//
// The Go side folds the header's first 64 bytes into the midstate once per
// header. Per nonce there is the second block of the first hash (merkle
// root tail, nTime, nBits, the nonce as W[3], padding) and one compression
// of the second hash (the 32-byte first digest, then fixed padding). The
// ARM instructions go four rounds at a time (SHA256H gives the new ABCD,
// SHA256H2 the new EFGH, both from the same four W+K), and their schedule
// instructions four words at a time, so a pass
//
//  1. expands every lane's first-hash schedule into W+K in scratch memory:
//     W[0..15] come from the context with the lane's byte-swapped nonce put
//     in W[3]; the W+K of groups 1..3 (W[4..15]) are the same for every
//     nonce and come from the context, one load for all lanes; the
//     SHA256SU0 halves of groups 5, 6 and 7 (W[4..7]+sigma0(W[5..8]) and
//     so on, which read no nonce-dependent word) come precomputed from the
//     context, so 9 of the 12 SHA256SU0 run;
//  2. runs the 16 groups of the first hash from the midstate (rounds 0..2,
//     which the other kernels skip, share their group with round 3, which
//     reads the nonce: at four-round granularity nothing is gained there),
//     and adds the midstate;
//  3. expands the second hash's schedule from that state (W[0..7]) and the
//     fixed words W[8..15]: the W+K of groups 2 and 3 are constants, and so
//     is the SHA256SU0 half of group 6, so 11 of 12 SHA256SU0 run;
//  4. runs the second hash from the initial state up to group 15, of which
//     only SHA256H2 runs: the new EFGH's last word is h after round 63,
//     which is e after round 60, e61, and h7 = e61 + H7 is the last digest
//     word. Round 60 is the first of group 15, so at four-round
//     granularity the SHA256H of group 15 (the new ABCD) is what can be
//     skipped; W[61..63] come with W[60] in one vector anyway;
//  5. tests h7, byte-swapped, against the target's top word for every
//     lane, and returns the lanes that pass; the Go side finishes those
//     (HeaderJob.Sum) and compares them whole.
//
// Per nonce that is 63 SHA256H/SHA256H2 (not 64), 20 SHA256SU0 (not 24)
// and 24 SHA256SU1. The first group of each hash reads the midstate or the
// initial state straight from the registers that keep them, so it needs
// no copy of ABCD.

// Header context, in bytes; main writes it for the Go side (armHdr* in
// hasher/header_layout_arm64.go).
const (
	hctxMid  = 0   // midstate: ABCD, EFGH
	hctxW    = 32  // W[0..15] of the first hash's block 2, W[3] = 0
	hctxWK   = 96  // W[t]+K[t] for t = 4..15 (groups 1..3)
	hctxSU0  = 144 // SHA256SU0 results for groups 5, 6, 7
	hctxSize = 192
)

// Per-lane scratch, in bytes: the W+K of both hashes (groups 0..15 each;
// those that are constants are not written).
const (
	hlSched1 = 0
	hlSched2 = 256
	hlSize   = 512
)

// The second hash's constants, in bytes from armsha2Hdr<>.
const (
	h2IV   = 0  // initial state: ABCD, EFGH
	h2Pad  = 32 // W[8..15]
	h2PadK = 64 // W[t]+K[t] for t = 8..15
	h2SU0  = 96 // SHA256SU0 result for group 6, from W[8..15] only
	h2Size = 112
)

var iv = [8]uint32{
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
}

func sigma0(x uint32) uint32 {
	return bits.RotateLeft32(x, -7) ^ bits.RotateLeft32(x, -18) ^ (x >> 3)
}

// headerData emits armsha2Hdr<>, the second hash's constants.
func headerData() {
	var w [16]uint32
	w[8] = 0x80000000 // the pad bit after the 32-byte first digest
	w[15] = 256       // its length in bits
	var words []uint32
	words = append(words, iv[:]...)
	words = append(words, w[8:16]...)
	for t := 8; t < 16; t++ {
		words = append(words, w[t]+sha256k.K[t])
	}
	for j := 0; j < 4; j++ { // group 6: W[8+j] + sigma0(W[9+j])
		words = append(words, w[8+j]+sigma0(w[9+j]))
	}
	if 4*len(words) != h2Size {
		panic("armsha2Hdr size")
	}
	for i, v := range words {
		fmt.Fprintf(&out, "DATA armsha2Hdr<>+%d(SB)/4, $0x%08x\n", 4*i, v)
	}
	fmt.Fprintf(&out, "GLOBL armsha2Hdr<>(SB), RODATA|NOPTR, $%d\n", h2Size)
}

const headerSignature = "(ctx *[48]uint32, scratch *uint32, nonce uint32, passes int, top uint32) (done int, lanes uint32)"

// headerMemLanes lists the lane counts of armsha2Header<L>, the header
// kernels that keep the schedules in scratch memory: four lanes need every
// vector register for their states.
var headerMemLanes = []int{4}

func headerStubs(b *bytes.Buffer) {
	first := fmt.Sprintf("armsha2HeaderR%d", headerRegLanes[0])
	for _, L := range headerRegLanes {
		name := fmt.Sprintf("armsha2HeaderR%d", L)
		b.WriteString("\n")
		if name == first {
			for _, l := range []string{
				name + " hashes passes passes of L Bitcoin headers (sha256d; L is",
				"the number in the name) with the ARMv8 SHA2 instructions, lane i of",
				"a pass holding nonce nonce+L*pass+i (mod 2^32), and stops after the",
				"first pass in which some lane's last digest word h7, byte-swapped,",
				"is at most top. It returns the passes done and that pass's lanes as",
				"a bit mask (0 if none). ctx is the header's context (see",
				"header_arm64.go). passes >= 1. The message schedules stay in",
				"registers.",
			} {
				b.WriteString("// " + l + "\n")
			}
		} else {
			fmt.Fprintf(b, "// %s is %s with %d lanes.\n", name, first, L)
		}
		fmt.Fprintf(b, "//\n//go:noescape\nfunc %s%s\n", name, headerRegSignature)
	}
	for _, L := range headerMemLanes {
		name := fmt.Sprintf("armsha2Header%d", L)
		fmt.Fprintf(b, "\n// %s is %s with %d lanes and the schedules in scratch\n", name, first, L)
		b.WriteString("// memory, 128*L uint32s.\n")
		fmt.Fprintf(b, "//\n//go:noescape\nfunc %s%s\n", name, headerSignature)
	}
}

// General-purpose registers of the header kernels.
const (
	hCtx     = "R0"
	hScratch = "R1"
	hNonce   = "R2" // nonce of lane 0 this pass
	hPasses  = "R3"
	hTop     = "R4"
	hDone    = "R5"
	hLanes   = "R6" // lanes whose h7 passed
	hK       = "R7" // armsha2K
	hH2      = "R8" // armsha2Hdr
	hIV7     = "R9" // H7
	hT0      = "R10"
	hT1      = "R11"
)

// Vector registers: lane i's ABCD, EFGH, copy of ABCD and W+K as in
// armsha2Mine (V0..V15 for up to four lanes), which during a schedule
// expansion hold the lane's four message vectors instead; lane i's W+K
// temporary V(16+i); K V20; the midstate V24, V25; the initial state V26,
// V27.
func sTmp(i int) string { return fmt.Sprintf("V%d", 16+i) }

const hKReg = "V20"

// ring returns lane i's four schedule registers.
func ring(i int) [4]string { return [4]string{abcd(i), efgh(i), copyR(i), wkR(i)} }

// headerEntry emits what both kinds of header kernel do on entry once
// their arguments are loaded: no pass done yet, the tables' addresses,
// H7 for the early-exit test, the midstate and the second hash's initial
// state in their registers.
func headerEntry() {
	ins("MOVD", "$0", hDone)
	ins("MOVD", "$armsha2K<>(SB)", hK)
	ins("MOVD", "$armsha2Hdr<>(SB)", hH2)
	ins("MOVW", fmt.Sprintf("$0x%08x", iv[7]), hIV7)
	ins("FLDPQ", fmt.Sprintf("%d(%s)", hctxMid, hCtx), "("+fr(midA)+", "+fr(midE)+")")
	ins("FLDPQ", fmt.Sprintf("%d(%s)", h2IV, hH2), "("+fr(startA)+", "+fr(startE)+")")
}

func header(L int) {
	lbl := func(s string) string { return fmt.Sprintf("hdr%s_%d", s, L) }
	fmt.Fprintf(&out, "\n// func armsha2Header%d%s\n", L, headerSignature)
	fmt.Fprintf(&out, "TEXT ·armsha2Header%d(SB), NOSPLIT, $0-52\n", L)
	ins("MOVD", "ctx+0(FP)", hCtx)
	ins("MOVD", "scratch+8(FP)", hScratch)
	ins("MOVWU", "nonce+16(FP)", hNonce)
	ins("MOVD", "passes+24(FP)", hPasses)
	ins("MOVWU", "top+32(FP)", hTop)
	headerEntry()
	ivA, ivE := startA, startE
	sched := func(i, hash, g int) string {
		return fmt.Sprintf("%d(%s)", hlSize*i+[]int{hlSched1, hlSched2}[hash]+16*g, hScratch)
	}
	// groups emits groups 1..n-1 of hash (0 or 1) with each lane's W+K
	// from its schedule, except in the groups where shared(g) says the W+K
	// is the same for every lane: then it is loaded once, from the address
	// shared gives, into lane 0's register, which every lane reads.
	groups := func(hash, n int, shared func(g int) (string, bool)) {
		for g := 1; g < n; g++ {
			addr, same := shared(g)
			laneGroup(L, func(i int) {
				if same {
					if i == 0 {
						ins("FMOVQ", addr, fr(wkR(0)))
					}
					return
				}
				ins("FMOVQ", sched(i, hash, g), fr(wkR(i)))
			}, func(i int) string {
				if same {
					return wkR(0)
				}
				return wkR(i)
			})
		}
	}

	label(lbl("pass"))
	comment("1. The first hash's schedule: W[0..15] from the context, the nonce in W[3].")
	for i := 0; i < L; i++ {
		r := ring(i)
		ins("FLDPQ", fmt.Sprintf("%d(%s)", hctxW, hCtx), "("+fr(r[0])+", "+fr(r[1])+")")
		ins("FLDPQ", fmt.Sprintf("%d(%s)", hctxW+32, hCtx), "("+fr(r[2])+", "+fr(r[3])+")")
		if i == 0 {
			ins("REVW", hNonce, hT0)
		} else {
			ins("ADDW", fmt.Sprintf("$%d", i), hNonce, hT0)
			ins("REVW", hT0, hT0)
		}
		ins("VMOV", hT0, r[0]+".S[3]")
	}
	expand(L, 0, map[int]bool{1: true, 2: true, 3: true}, func(G int) (string, bool) {
		if G >= 5 && G <= 7 {
			return fmt.Sprintf("%d(%s)", hctxSU0+16*(G-5), hCtx), true
		}
		return "", false
	}, sched)

	comment("2. The first hash's block 2 from the midstate.")
	for i := 0; i < L; i++ {
		ins("FMOVQ", sched(i, 0, 0), fr(wkR(i)))
	}
	firstGroup(L, midA, midE)
	groups(0, 16, func(g int) (string, bool) {
		return fmt.Sprintf("%d(%s)", hctxWK+16*(g-1), hCtx), g <= 3
	})
	for i := 0; i < L; i++ {
		ins("VADD", midA+".S4", abcd(i)+".S4", abcd(i)+".S4")
		ins("VADD", midE+".S4", efgh(i)+".S4", efgh(i)+".S4")
	}

	comment("3. The second hash's schedule: W[0..7] the first digest, W[8..15] fixed.")
	for i := 0; i < L; i++ {
		r := ring(i)
		ins("FLDPQ", fmt.Sprintf("%d(%s)", h2Pad, hH2), "("+fr(r[2])+", "+fr(r[3])+")")
	}
	expand(L, 1, map[int]bool{2: true, 3: true}, func(G int) (string, bool) {
		if G == 6 {
			return fmt.Sprintf("%d(%s)", h2SU0, hH2), true
		}
		return "", false
	}, sched)

	comment("4. The second hash from the initial state, to e61.")
	for i := 0; i < L; i++ {
		ins("FMOVQ", sched(i, 1, 0), fr(wkR(i)))
	}
	firstGroup(L, ivA, ivE)
	groups(1, 15, func(g int) (string, bool) {
		return fmt.Sprintf("%d(%s)", h2PadK+16*(g-2), hH2), g == 2 || g == 3
	})
	comment("Group 15: only the new EFGH, whose last word is e61.")
	for i := 0; i < L; i++ {
		ins("FMOVQ", sched(i, 1, 15), fr(wkR(i)))
	}
	for i := 0; i < L; i++ {
		ins("SHA256H2", wkR(i)+".S4", abcd(i), efgh(i))
	}

	comment("5. h7 = e61 + H7, byte-swapped, against the target's top word.")
	ins("MOVD", "$0", hLanes)
	for i := 0; i < L; i++ {
		ins("VMOV", efgh(i)+".S[3]", hT0)
		ins("ADDW", hIV7, hT0, hT0)
		ins("REVW", hT0, hT0)
		ins("CMPW", hTop, hT0)
		ins("CSETW", "LS", hT1)
		ins("ORRW", fmt.Sprintf("%s<<%d", hT1, i), hLanes, hLanes)
	}
	ins("ADD", "$1", hDone, hDone)
	ins("ADDW", fmt.Sprintf("$%d", L), hNonce, hNonce)
	ins("CBNZW", hLanes, lbl("out"))
	ins("CMP", hPasses, hDone)
	ins("BLT", lbl("pass"))
	label(lbl("out"))
	ins("MOVD", hDone, "done+40(FP)")
	ins("MOVW", hLanes, "lanes+48(FP)")
	ins("RET")
}

// firstGroup emits group 0 of a hash for every lane from a state that
// registers a and e keep (and that stays there): ABCD and EFGH start as
// copies of it, and each instruction's other state operand reads it
// directly, so no copy of ABCD is needed. Lane i's W+K is in wkR(i).
func firstGroup(L int, a, e string) {
	for i := 0; i < L; i++ {
		ins("VMOV", a+".B16", abcd(i)+".B16")
		ins("VMOV", e+".B16", efgh(i)+".B16")
	}
	for i := 0; i < L; i++ {
		ins("SHA256H", wkR(i)+".S4", e, abcd(i))
	}
	for i := 0; i < L; i++ {
		ins("SHA256H2", wkR(i)+".S4", a, efgh(i))
	}
}

// expand emits the schedule of one hash for every lane, group by group,
// from the message in ring(i): for each group g it stores W+K (unless
// constWK[g]; one K load for all lanes) at sched(i, hash, g), and derives
// group g+4 in place of group g, with SHA256SU0 or, where su0(g+4) names
// one, a load of its precomputed result, then SHA256SU1. Groups 13..15
// are only stored.
func expand(L, hash int, constWK map[int]bool, su0 func(G int) (string, bool), sched func(i, hash, g int) string) {
	for g := 0; g < 16; g++ {
		if !constWK[g] {
			ins("FMOVQ", fmt.Sprintf("%d(%s)", 16*g, hK), fr(hKReg))
			for i := 0; i < L; i++ {
				ins("VADD", hKReg+".S4", ring(i)[g%4]+".S4", sTmp(i)+".S4")
			}
			for i := 0; i < L; i++ {
				ins("FMOVQ", fr(sTmp(i)), sched(i, hash, g))
			}
		}
		if g >= 12 {
			continue
		}
		mem, pre := su0(g + 4)
		for i := 0; i < L; i++ {
			r := ring(i)
			if pre {
				ins("FMOVQ", mem, fr(r[g%4]))
			} else {
				ins("SHA256SU0", r[(g+1)%4]+".S4", r[g%4]+".S4")
			}
		}
		for i := 0; i < L; i++ {
			r := ring(i)
			ins("SHA256SU1", r[(g+3)%4]+".S4", r[(g+2)%4]+".S4", r[g%4]+".S4")
		}
	}
}

// headerRegLanes lists the lane counts of armsha2HeaderR<L>, the header
// kernels that keep every lane's message schedule in registers.
var headerRegLanes = []int{1, 2, 3}

const headerRegSignature = "(ctx *[48]uint32, nonce uint32, passes int, top uint32) (done int, lanes uint32)"

// Registers of armsha2HeaderR<L>: lane i has eight, V(8i)..V(8i+7): ABCD,
// EFGH, the copy of ABCD, W+K and the four message vectors of its
// schedule; K is loaded into V28; the midstate and the initial state stay
// in V24..V27 as in armsha2Header<L>.
type regLane int

func (i regLane) a() string       { return fmt.Sprintf("V%d", 8*int(i)) }
func (i regLane) e() string       { return fmt.Sprintf("V%d", 8*int(i)+1) }
func (i regLane) c() string       { return fmt.Sprintf("V%d", 8*int(i)+2) }
func (i regLane) wk() string      { return fmt.Sprintf("V%d", 8*int(i)+3) }
func (i regLane) m(g int) string  { return fmt.Sprintf("V%d", 8*int(i)+4+g%4) }
func (i regLane) ring() [4]string { return [4]string{i.m(0), i.m(1), i.m(2), i.m(3)} }

const hKRegR = "V28"

// headerReg emits armsha2HeaderR<L>: the pass of armsha2Header<L> with the
// schedules in registers. Each lane's W+K of group g is made from its
// message vector just before the group's rounds, and group g+4 is derived
// in its place right after, so no schedule goes through memory; the
// precomputed W+K and SHA256SU0 halves are the same.
func headerReg(L int) {
	lbl := func(s string) string { return fmt.Sprintf("hdrr%s_%d", s, L) }
	fmt.Fprintf(&out, "\n// func armsha2HeaderR%d%s\n", L, headerRegSignature)
	fmt.Fprintf(&out, "TEXT ·armsha2HeaderR%d(SB), NOSPLIT, $0-44\n", L)
	ins("MOVD", "ctx+0(FP)", hCtx)
	ins("MOVWU", "nonce+8(FP)", hNonce)
	ins("MOVD", "passes+16(FP)", hPasses)
	ins("MOVWU", "top+24(FP)", hTop)
	headerEntry()
	ivA, ivE := startA, startE
	lanesR := make([]regLane, L)
	for i := range lanesR {
		lanesR[i] = regLane(i)
	}

	// hash emits the 16 groups of one hash for every lane from the state
	// in registers a, e, the message in the lanes' rings: wkMem(g) names
	// the shared W+K of group g if it is a constant, su0Mem(G) the
	// precomputed SHA256SU0 half of group G if there is one; group 15
	// runs only SHA256H2 when last.
	hash := func(a, e string, wkMem func(g int) (string, bool), su0Mem func(G int) (string, bool), last bool) {
		for g := 0; g < 16; g++ {
			mem, shared := wkMem(g)
			wk := func(i regLane) string {
				if shared {
					return lanesR[0].wk()
				}
				return i.wk()
			}
			if shared {
				ins("FMOVQ", mem, fr(lanesR[0].wk()))
			} else {
				ins("FMOVQ", fmt.Sprintf("%d(%s)", 16*g, hK), fr(hKRegR))
				for _, i := range lanesR {
					ins("VADD", hKRegR+".S4", i.m(g)+".S4", i.wk()+".S4")
				}
			}
			switch {
			case g == 0:
				for _, i := range lanesR {
					ins("VMOV", a+".B16", i.a()+".B16")
					ins("VMOV", e+".B16", i.e()+".B16")
				}
				for _, i := range lanesR {
					ins("SHA256H", wk(i)+".S4", e, i.a())
				}
				for _, i := range lanesR {
					ins("SHA256H2", wk(i)+".S4", a, i.e())
				}
			case g == 15 && last:
				for _, i := range lanesR {
					ins("SHA256H2", wk(i)+".S4", i.a(), i.e())
				}
			default:
				for _, i := range lanesR {
					ins("VMOV", i.a()+".B16", i.c()+".B16")
				}
				for _, i := range lanesR {
					ins("SHA256H", wk(i)+".S4", i.e(), i.a())
				}
				for _, i := range lanesR {
					ins("SHA256H2", wk(i)+".S4", i.c(), i.e())
				}
			}
			if g >= 12 {
				continue
			}
			smem, pre := su0Mem(g + 4)
			for _, i := range lanesR {
				if pre {
					ins("FMOVQ", smem, fr(i.m(g)))
				} else {
					ins("SHA256SU0", i.m(g+1)+".S4", i.m(g)+".S4")
				}
			}
			for _, i := range lanesR {
				ins("SHA256SU1", i.m(g+3)+".S4", i.m(g+2)+".S4", i.m(g)+".S4")
			}
		}
	}

	label(lbl("pass"))
	comment("The first hash's block 2: W[0..15] from the context, the nonce in W[3].")
	for _, i := range lanesR {
		ins("FLDPQ", fmt.Sprintf("%d(%s)", hctxW, hCtx), "("+fr(i.m(0))+", "+fr(i.m(1))+")")
		ins("FLDPQ", fmt.Sprintf("%d(%s)", hctxW+32, hCtx), "("+fr(i.m(2))+", "+fr(i.m(3))+")")
		if i == 0 {
			ins("REVW", hNonce, hT0)
		} else {
			ins("ADDW", fmt.Sprintf("$%d", int(i)), hNonce, hT0)
			ins("REVW", hT0, hT0)
		}
		ins("VMOV", hT0, i.m(0)+".S[3]")
	}
	hash(midA, midE, func(g int) (string, bool) {
		if g >= 1 && g <= 3 {
			return fmt.Sprintf("%d(%s)", hctxWK+16*(g-1), hCtx), true
		}
		return "", false
	}, func(G int) (string, bool) {
		if G >= 5 && G <= 7 {
			return fmt.Sprintf("%d(%s)", hctxSU0+16*(G-5), hCtx), true
		}
		return "", false
	}, false)

	comment("The second hash: W[0..7] the first digest, W[8..15] fixed, to e61.")
	for _, i := range lanesR {
		ins("VADD", midA+".S4", i.a()+".S4", i.m(0)+".S4")
		ins("VADD", midE+".S4", i.e()+".S4", i.m(1)+".S4")
		ins("FLDPQ", fmt.Sprintf("%d(%s)", h2Pad, hH2), "("+fr(i.m(2))+", "+fr(i.m(3))+")")
	}
	hash(ivA, ivE, func(g int) (string, bool) {
		if g == 2 || g == 3 {
			return fmt.Sprintf("%d(%s)", h2PadK+16*(g-2), hH2), true
		}
		return "", false
	}, func(G int) (string, bool) {
		if G == 6 {
			return fmt.Sprintf("%d(%s)", h2SU0, hH2), true
		}
		return "", false
	}, true)

	comment("h7 = e61 + H7, byte-swapped, against the target's top word.")
	ins("MOVD", "$0", hLanes)
	for _, i := range lanesR {
		ins("VMOV", i.e()+".S[3]", hT0)
		ins("ADDW", hIV7, hT0, hT0)
		ins("REVW", hT0, hT0)
		ins("CMPW", hTop, hT0)
		ins("CSETW", "LS", hT1)
		ins("ORRW", fmt.Sprintf("%s<<%d", hT1, int(i)), hLanes, hLanes)
	}
	ins("ADD", "$1", hDone, hDone)
	ins("ADDW", fmt.Sprintf("$%d", L), hNonce, hNonce)
	ins("CBNZW", hLanes, lbl("out"))
	ins("CMP", hPasses, hDone)
	ins("BLT", lbl("pass"))
	label(lbl("out"))
	ins("MOVD", hDone, "done+32(FP)")
	ins("MOVW", hLanes, "lanes+40(FP)")
	ins("RET")
}
