// Command armsha2 generates hasher/armsha2_arm64.s: SHA-256 mining kernels
// for arm64 with the ARMv8 SHA2 instructions (SHA256H, SHA256H2,
// SHA256SU0, SHA256SU1) that hash several nonces of one layout at once, one
// independent message per lane (armsha2Mine<L>), and their Bitcoin header
// (sha256d) counterparts, armsha2Header<L> (see header.go).
//
// avo writes amd64 only, so this program prints Go arm64 assembly itself,
// with the same discipline: the assembly is generated, never edited, and
// `make generate-check` fails when the committed file differs from what
// this program prints. Run it from hasher/_asm (see the go:generate line in
// hasher/armsha2_arm64.go):
//
//	go run ./armsha2 -out ../armsha2_arm64.s -stubs ../armsha2_stub_arm64.go
//
// # Why lanes
//
// SHA256H and SHA256H2 each run four rounds, and the next four rounds of
// the same message need both results. On the cores with public figures
// (Arm Neoverse, Apple) they take 2 to 4 cycles of latency while the
// crypto pipes accept one or two a cycle, so one message leaves most issue
// slots empty. The lanes are independent messages (every nonce is one),
// their instructions interleaved group by group, the same idea as the
// x86 shani kernels.
//
// # What one pass does
//
// A pass hashes nonces base, ..., base+L-1, lane i holding base+i in its
// own copy of the layout's nonce blocks (1 or 2 blocks, ASCII digits). It
//
//  1. expands each lane's nonce blocks into W[t]+K[t] in scratch memory
//     (SHA256SU0/SHA256SU1, four words at a time);
//  2. runs nonce block 0 for all lanes, interleaved, from the start state
//     the Go side computed once per layout: the groups of four rounds
//     before the group holding the first digit are the same for every
//     nonce and are skipped (skip groups), as in the shani kernels;
//  3. runs nonce block 1, when the digits reach into it;
//  4. runs the constant blocks, whose W[t]+K[t] the Go side precomputed:
//     one load feeds L lanes;
//  5. tests each lane's first state word against the target mask and, if
//     one passes, stores every lane's state and returns; the Go side
//     checks the whole target;
//  6. otherwise adds L to every lane's ASCII nonce and goes on.
//
// States are kept as the instructions want them: ABCD and EFGH, each four
// uint32s in lane order, which is also how the Go side writes st and reads
// the stored states. The midstate and the start state stay in registers
// for the whole call.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/powchain/powchain/hasher/_asm/internal/gofile"
	"github.com/powchain/powchain/hasher/_asm/sha256k"
)

// lanes lists the lane counts to generate: one function armsha2Mine<L>
// each. Four lanes use every vector register the rounds need (see regs).
var lanes = []int{1, 2, 4}

// Scratch memory layout, shared with armsha2_arm64.go: a save area of 32
// bytes per lane (where the states go when a lane may meet the target),
// then the W[t]+K[t] of every lane's nonce blocks, 256 bytes per lane and
// block, block-major.
const (
	saveBytes  = 32
	schedBytes = 256
)

func schedOff(L, block, lane int) int { return saveBytes*L + schedBytes*(block*L+lane) }

// General-purpose registers, the same in every function. R18 (platform),
// R26 to R30 (closure, REGTMP, g, FP, LR) are left alone.
const (
	rSt      = "R0"  // st: start state [0:8], midstate [8:16]
	rLanes   = "R1"  // lanes: L nonce-block copies of stride bytes each
	rScratch = "R2"  // scratch: save area, then schedules
	rWK      = "R3"  // cursor over the constant blocks' W+K
	rNcb     = "R4"  // constant blocks per pass
	rStride  = "R5"  // bytes per lane copy: 64*nb
	rSkip    = "R6"  // groups of four rounds of block 0 to skip: 0..3
	rDigit   = "R7"  // offset of the last nonce digit in a lane copy
	rPasses  = "R8"  // passes asked for
	rMask    = "R9"  // target mask on h0
	rDone    = "R10" // passes done
	rLeft    = "R11" // constant blocks left in this pass
	rT0      = "R12" // temporaries
	rT1      = "R13"
	rT2      = "R14"
	rT3      = "R15"
	rWKBase  = "R16" // wk
)

// Vector registers: lane i's ABCD, EFGH and the copy of ABCD that
// SHA256H2 reads are V(3i), V(3i+1), V(3i+2); its W+K operand is V(12+i);
// the states saved for a feed-forward V(16+2i), V(17+2i); the midstate
// V24, V25; the start state V26, V27. The schedule uses V16..V21 before
// the rounds start.
func abcd(i int) string  { return fmt.Sprintf("V%d", 3*i) }
func efgh(i int) string  { return fmt.Sprintf("V%d", 3*i+1) }
func copyR(i int) string { return fmt.Sprintf("V%d", 3*i+2) }
func wkR(i int) string   { return fmt.Sprintf("V%d", 12+i) }
func saveA(i int) string { return fmt.Sprintf("V%d", 16+2*i) }
func saveE(i int) string { return fmt.Sprintf("V%d", 17+2*i) }
func fr(v string) string { return "F" + strings.TrimPrefix(v, "V") }

const (
	midA, midE     = "V24", "V25"
	startA, startE = "V26", "V27"
)

var out bytes.Buffer

func ins(op string, args ...string) {
	fmt.Fprintf(&out, "\t%s\t%s\n", op, strings.Join(args, ", "))
}
func label(l string)   { fmt.Fprintf(&out, "%s:\n", l) }
func comment(c string) { fmt.Fprintf(&out, "\n\t// %s\n", c) }

func main() {
	outPath := flag.String("out", "", "assembly file to write")
	stubPath := flag.String("stubs", "", "Go stubs file to write")
	layoutPath := flag.String("layout", "", "Go file to write the header context's layout to")
	flag.Parse()
	if *layoutPath != "" {
		if err := gofile.Write(*layoutPath, "arm64", "hasher", "go run ./armsha2 -layout "+filepath.Base(*layoutPath),
			"The armsha2 header kernels' context, in uint32s (see\n_asm/armsha2/header.go).", []gofile.Const{
				{Name: "armHdrMid", Value: hctxMid / 4, Doc: "midstate: ABCD, EFGH"},
				{Name: "armHdrW", Value: hctxW / 4, Doc: "W[0..15] of the first hash's block 2, W[3] = 0"},
				{Name: "armHdrWK", Value: hctxWK / 4, Doc: "W[t]+K[t], t = 4..15"},
				{Name: "armHdrSU0", Value: hctxSU0 / 4, Doc: "SHA256SU0 results of groups 5, 6, 7"},
				{Name: "armHdrSize", Value: hctxSize / 4, Doc: "the context's size"},
				{Name: "armHdrLane", Value: hlSize / 4, Doc: "scratch uint32s per lane of armsha2Header4"},
			}); err != nil {
			log.Fatal(err)
		}
	}
	if *outPath == "" || *stubPath == "" {
		log.Fatal("usage: armsha2 -out FILE.s -stubs FILE.go")
	}
	cmd := "go run main.go -out " + *outPath + " -stubs " + *stubPath
	fmt.Fprintf(&out, "// Code generated by command: %s. DO NOT EDIT.\n\n", cmd)
	out.WriteString("//go:build arm64 && gc && !purego && !noasm\n\n#include \"textflag.h\"\n\n")
	for t, k := range sha256k.K {
		fmt.Fprintf(&out, "DATA armsha2K<>+%d(SB)/4, $0x%08x\n", 4*t, k)
	}
	out.WriteString("GLOBL armsha2K<>(SB), RODATA|NOPTR, $256\n")
	for _, L := range lanes {
		mine(L)
	}
	headerData()
	for _, L := range headerRegLanes {
		headerReg(L)
	}
	for _, L := range headerMemLanes {
		header(L)
	}
	if err := os.WriteFile(*outPath, out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*stubPath, stubs(cmd), 0o644); err != nil {
		log.Fatal(err)
	}
}

const signature = "(st *[16]uint32, lanes *byte, scratch *uint32, wk *uint32, ncb int, nb int, skip int, digit int, passes int, mask uint32) (done int, found bool)"

func stubs(cmd string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by command: %s. DO NOT EDIT.\n\n", cmd)
	b.WriteString("//go:build arm64 && gc && !purego && !noasm\n\npackage hasher\n")
	for _, L := range lanes {
		name := fmt.Sprintf("armsha2Mine%d", L)
		b.WriteString("\n")
		if L == lanes[0] {
			for _, l := range []string{
				name + " hashes passes passes of L nonces each with the ARMv8 SHA2",
				"instructions (L is the number in the name), lane i of a pass holding",
				"the nonce written in lanes[i*64*nb:], and stops after the first pass",
				"in which some lane's first state word has no bit set under mask. It",
				"returns the passes done and whether it stopped that way; then",
				"scratch[8*i:8*i+8] holds lane i's final state (ABCD, EFGH). Between",
				"passes it adds L to every lane's ASCII nonce (the lanes' digits are",
				"left undefined on return). st holds the start state after skip",
				"groups of four rounds of the first nonce block, then the midstate.",
				"wk holds W[t]+K[t] of the ncb constant blocks that follow the nb (1",
				"or 2) nonce blocks. digit is the offset of the last nonce digit in a",
				"lane's copy. passes >= 1. scratch holds 8*L + 64*L*nb uint32s.",
			} {
				b.WriteString("// " + l + "\n")
			}
		} else {
			fmt.Fprintf(&b, "// %s is armsha2Mine%d with %d lanes.\n", name, lanes[0], L)
		}
		fmt.Fprintf(&b, "//\n//go:noescape\nfunc %s%s\n", name, signature)
	}
	headerStubs(&b)
	return b.Bytes()
}

// mine emits armsha2Mine<L>.
func mine(L int) {
	if L < 1 || L > 4 {
		panic("lanes must be 1 to 4: the register plan has room for four")
	}
	lbl := func(s string) string { return fmt.Sprintf("%s_%d", s, L) }
	fmt.Fprintf(&out, "\n// func armsha2Mine%d%s\n", L, signature)
	fmt.Fprintf(&out, "TEXT ·armsha2Mine%d(SB), NOSPLIT, $0-89\n", L)
	for _, p := range [][2]string{
		{"MOVD", "st+0(FP), " + rSt}, {"MOVD", "lanes+8(FP), " + rLanes},
		{"MOVD", "scratch+16(FP), " + rScratch}, {"MOVD", "wk+24(FP), " + rWKBase},
		{"MOVD", "ncb+32(FP), " + rNcb}, {"MOVD", "nb+40(FP), " + rStride},
		{"MOVD", "skip+48(FP), " + rSkip}, {"MOVD", "digit+56(FP), " + rDigit},
		{"MOVD", "passes+64(FP), " + rPasses}, {"MOVWU", "mask+72(FP), " + rMask},
	} {
		ins(p[0], p[1])
	}
	ins("LSL", "$6", rStride, rStride)
	ins("MOVD", "$0", rDone)
	ins("FLDPQ", "("+rSt+")", "("+fr(startA)+", "+fr(startE)+")")
	ins("FLDPQ", "32("+rSt+")", "("+fr(midA)+", "+fr(midE)+")")

	label(lbl("pass"))
	comment("1. Expand every lane's nonce blocks into W+K.")
	for i := 0; i < L; i++ {
		schedule(L, 0, i)
	}
	ins("CMP", "$128", rStride)
	ins("BNE", lbl("expanded"))
	for i := 0; i < L; i++ {
		schedule(L, 1, i)
	}
	label(lbl("expanded"))

	comment("2. Nonce block 0 from the start state: enter at group skip.")
	for i := 0; i < L; i++ {
		ins("VMOV", startA+".B16", abcd(i)+".B16")
		ins("VMOV", startE+".B16", efgh(i)+".B16")
	}
	ins("CMP", "$1", rSkip)
	ins("BLT", lbl("b0g0"))
	ins("BEQ", lbl("b0g1"))
	ins("CMP", "$2", rSkip)
	ins("BEQ", lbl("b0g2"))
	ins("B", lbl("b0g3"))
	for g := 0; g < 16; g++ {
		if g < 4 {
			label(lbl(fmt.Sprintf("b0g%d", g)))
		}
		laneGroup(L, func(i int) {
			ins("FMOVQ", fmt.Sprintf("%d(%s)", schedOff(L, 0, i)+16*g, rScratch), fr(wkR(i)))
		}, wkR)
	}
	comment("Feed-forward of block 0: add the midstate.")
	for i := 0; i < L; i++ {
		ins("VADD", midA+".S4", abcd(i)+".S4", abcd(i)+".S4")
		ins("VADD", midE+".S4", efgh(i)+".S4", efgh(i)+".S4")
	}
	ins("CMP", "$128", rStride)
	ins("BNE", lbl("nonce_done"))
	comment("3. Nonce block 1.")
	saveStates(L)
	for g := 0; g < 16; g++ {
		laneGroup(L, func(i int) {
			ins("FMOVQ", fmt.Sprintf("%d(%s)", schedOff(L, 1, i)+16*g, rScratch), fr(wkR(i)))
		}, wkR)
	}
	addSaved(L)
	label(lbl("nonce_done"))

	comment("4. The constant blocks: one W+K load feeds every lane.")
	ins("MOVD", rWKBase, rWK)
	ins("CBZ", rNcb, lbl("check"))
	ins("MOVD", rNcb, rLeft)
	label(lbl("cblock"))
	saveStates(L)
	for g := 0; g < 16; g++ {
		laneGroup(L, func(i int) {
			if i == 0 {
				ins("FMOVQ", fmt.Sprintf("%d(%s)", 16*g, rWK), fr(wkR(0)))
			}
		}, func(int) string { return wkR(0) })
	}
	addSaved(L)
	ins("ADD", "$256", rWK, rWK)
	ins("SUBS", "$1", rLeft, rLeft)
	ins("BNE", lbl("cblock"))

	label(lbl("check"))
	comment("5. Does any lane's h0 have no bit set under the mask?")
	ins("ADD", "$1", rDone, rDone)
	for i := 0; i < L; i++ {
		ins("VMOV", abcd(i)+".S[0]", rT0)
		ins("ANDW", rMask, rT0, rT0)
		ins("CBZW", rT0, lbl("found"))
	}
	ins("CMP", rPasses, rDone)
	ins("BEQ", lbl("return"))
	comment(fmt.Sprintf("6. Add %d to every lane's ASCII nonce.", L))
	increment(L, lbl)
	ins("B", lbl("pass"))

	label(lbl("return"))
	ins("MOVD", rDone, "done+80(FP)")
	ins("MOVB", "ZR", "found+88(FP)")
	ins("RET")

	label(lbl("found"))
	comment("Some lane may meet the target: hand every lane's state to Go.")
	for i := 0; i < L; i++ {
		ins("FSTPQ", "("+fr(abcd(i))+", "+fr(efgh(i))+")", fmt.Sprintf("%d(%s)", saveBytes*i, rScratch))
	}
	ins("MOVD", rDone, "done+80(FP)")
	ins("MOVD", "$1", rT0)
	ins("MOVB", rT0, "found+88(FP)")
	ins("RET")
}

// laneGroup emits four rounds of every lane: load(i) puts lane i's W+K in
// register wk(i), then each lane copies its ABCD for SHA256H2 and runs
// SHA256H and SHA256H2. The steps go lane by lane within each kind so that
// independent instructions sit next to each other.
func laneGroup(L int, load func(i int), wk func(i int) string) {
	for i := 0; i < L; i++ {
		load(i)
	}
	for i := 0; i < L; i++ {
		ins("VMOV", abcd(i)+".B16", copyR(i)+".B16")
	}
	for i := 0; i < L; i++ {
		ins("SHA256H", wk(i)+".S4", efgh(i), abcd(i))
	}
	for i := 0; i < L; i++ {
		ins("SHA256H2", wk(i)+".S4", copyR(i), efgh(i))
	}
}

// saveStates copies every lane's state before a block, for the
// feed-forward.
func saveStates(L int) {
	for i := 0; i < L; i++ {
		ins("VMOV", abcd(i)+".B16", saveA(i)+".B16")
		ins("VMOV", efgh(i)+".B16", saveE(i)+".B16")
	}
}

// addSaved adds the saved states back after a block: the feed-forward.
func addSaved(L int) {
	for i := 0; i < L; i++ {
		ins("VADD", saveA(i)+".S4", abcd(i)+".S4", abcd(i)+".S4")
		ins("VADD", saveE(i)+".S4", efgh(i)+".S4", efgh(i)+".S4")
	}
}

// schedule emits the expansion of nonce block b of lane i: its 16 words
// from the lane's copy, big-endian, then W[16..63] four at a time, all
// stored as W+K in the lane's schedule area.
func schedule(L, b, i int) {
	m := []string{"V16", "V17", "V18", "V19"}
	k, t := "V20", "V21"
	ins("MOVD", rLanes, rT0)
	for j := 0; j < i; j++ {
		ins("ADD", rStride, rT0, rT0)
	}
	if b > 0 {
		ins("ADD", fmt.Sprintf("$%d", 64*b), rT0, rT0)
	}
	ins("VLD1", "("+rT0+")", "["+strings.Join([]string{m[0] + ".B16", m[1] + ".B16", m[2] + ".B16", m[3] + ".B16"}, ", ")+"]")
	for _, r := range m {
		ins("VREV32", r+".B16", r+".B16")
	}
	ins("MOVD", "$armsha2K<>(SB)", rT1)
	ins("ADD", fmt.Sprintf("$%d", schedOff(L, b, i)), rScratch, rT2)
	for g := 0; g < 16; g++ {
		w := m[g%4]
		ins("VLD1.P", "16("+rT1+")", "["+k+".S4]")
		ins("VADD", k+".S4", w+".S4", t+".S4")
		ins("VST1.P", "["+t+".S4]", "16("+rT2+")")
		if g < 12 {
			// W[4g+16..4g+19] from W[4g..4g+15]: the four registers
			// hold words 4g.., 4g+4.., 4g+8.., 4g+12.. in rotation.
			ins("SHA256SU0", m[(g+1)%4]+".S4", w+".S4")
			ins("SHA256SU1", m[(g+3)%4]+".S4", m[(g+2)%4]+".S4", w+".S4")
		}
	}
}

// increment emits the addition of L to the ASCII nonce of every lane. The
// Go side guarantees that no lane's nonce gets more digits.
func increment(L int, lbl func(string) string) {
	ins("ADD", rDigit, rLanes, rT0)
	for i := 0; i < L; i++ {
		next, carry, loop, end := lbl(fmt.Sprintf("inc%d", i)), lbl(fmt.Sprintf("carry%d", i)),
			lbl(fmt.Sprintf("carry%d_loop", i)), lbl(fmt.Sprintf("carry%d_end", i))
		if i > 0 {
			ins("ADD", rStride, rT0, rT0)
		}
		ins("MOVBU", "("+rT0+")", rT1)
		ins("ADDW", fmt.Sprintf("$%d", L), rT1, rT1)
		ins("CMPW", "$57", rT1) // '9'
		ins("BHI", carry)
		ins("MOVB", rT1, "("+rT0+")")
		ins("B", next)
		label(carry)
		// The last digit wrapped: carry one into the digits before it.
		ins("SUBW", "$10", rT1, rT1)
		ins("MOVB", rT1, "("+rT0+")")
		ins("MOVD", rT0, rT2)
		label(loop)
		ins("SUB", "$1", rT2, rT2)
		ins("MOVBU", "("+rT2+")", rT1)
		ins("CMPW", "$57", rT1)
		ins("BNE", end)
		ins("MOVW", "$48", rT3) // '0'
		ins("MOVB", rT3, "("+rT2+")")
		ins("B", loop)
		label(end)
		ins("ADDW", "$1", rT1, rT1)
		ins("MOVB", rT1, "("+rT2+")")
		label(next)
	}
}
