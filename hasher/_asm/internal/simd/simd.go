// Package simd holds what the generators of the two SIMD-lane kernels,
// avx2 and avx512, share: the layout of the arena their kernels work on,
// whose offsets grow with the vector's size, and the code around the
// rounds that is the same instructions in both (loading the arguments,
// entering the round loop at j0&7, masking the lanes of the last pass,
// returning). The Go side (simdSearcher in ../../simd_amd64.go) fills the
// arena with the same offsets, which the avx2 generator writes for it
// (LayoutConsts, ../../simd_layout_amd64.go).
package simd

import (
	"fmt"

	"github.com/powchain/powchain/hasher/_asm/internal/gofile"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The arena's header, uint64s in bytes from its start, and the midstate.
const (
	HdrNonceBlocks = 0   // nonce blocks (1 or 2)
	HdrConstBlocks = 8   // constant blocks
	HdrWIdx0       = 16  // byte offset of the first round group's W, (j0&^7)*vector bytes
	HdrRot0        = 24  // j0&7
	HdrDigits      = 32  // number of nonce digits
	HdrMask        = 40  // first-word target mask
	HdrKIdx0       = 48  // byte offset of the first round group's scalar K, (j0&^7)*4 (avx512)
	OffMid         = 128 // midstate, 8 vectors (every lane the same)
)

// Arena holds the byte offsets of the arena's parts after the midstate,
// which depend on the vector's size.
type Arena struct {
	Start int // state after rounds 0..j0-1 of nonce block 0, 8 vectors
	Save  int // the state after the last block done, 8 vectors
	Digit int // digit table: per digit, last first, word vector offset and shift
	W0    int // message schedule W[0..63] of nonce block 0, one vector per word
	W1    int // message schedule W[0..63] of nonce block 1 (if any)
	WK    int // W[t]+K[t] of the constant blocks, 64 uint32s per block
}

// NewArena returns the layout for vectors of vec bytes.
func NewArena(vec int) Arena {
	var a Arena
	a.Start = OffMid + 8*vec
	a.Save = a.Start + 8*vec
	a.Digit = a.Save + 8*vec
	a.W0 = a.Digit + 256
	a.W1 = a.W0 + 64*vec
	a.WK = a.W1 + 64*vec
	return a
}

// LayoutConsts is the layout as the Go side reads it (simd_amd64.go):
// the header's and midstate's offsets, and each part's offset for both
// vector sizes, 32 (avx2) and 64 (avx512) bytes.
func LayoutConsts() []gofile.Const {
	cs := []gofile.Const{
		{Name: "simdHdrNonceBlocks", Value: HdrNonceBlocks, Doc: "uint64: nonce blocks, 1 or 2"},
		{Name: "simdHdrConstBlocks", Value: HdrConstBlocks, Doc: "uint64: constant blocks after them"},
		{Name: "simdHdrWIdx0", Value: HdrWIdx0, Doc: "uint64: (j0&^7)*vector bytes, j0 the first round run"},
		{Name: "simdHdrRot0", Value: HdrRot0, Doc: "uint64: j0&7"},
		{Name: "simdHdrDigits", Value: HdrDigits, Doc: "uint64: nonce digits"},
		{Name: "simdHdrMask", Value: HdrMask, Doc: "uint64: the target's first-word mask"},
		{Name: "simdHdrKIdx0", Value: HdrKIdx0, Doc: "uint64: (j0&^7)*4 (read by avx512 only)"},
		{Name: "simdArenaMid", Value: OffMid, Doc: "8 vectors: the midstate"},
	}
	for _, vec := range []int{32, 64} {
		a := NewArena(vec)
		n := fmt.Sprintf("simdArena%d", vec)
		cs = append(cs,
			gofile.Const{Name: n + "Start", Value: a.Start, Doc: "8 vectors: the state after rounds 0..j0-1"},
			gofile.Const{Name: n + "Save", Value: a.Save, Doc: "8 vectors: the state after the last block"},
			gofile.Const{Name: n + "Digit", Value: a.Digit, Doc: "per digit, last first: word vector offset, shift"},
			gofile.Const{Name: n + "W0", Value: a.W0, Doc: "64 vectors: schedule of nonce block 0"},
			gofile.Const{Name: n + "W1", Value: a.W1, Doc: "64 vectors: schedule of nonce block 1"},
			gofile.Const{Name: n + "WK", Value: a.WK, Doc: "64 uint32s per constant block: W[t]+K[t]"},
		)
	}
	return cs
}

// Text starts the kernel's function name, of the type both kernels share
// (simdSearcher holds either as one func value), with its doc comment.
func Text(name string, doc ...string) {
	TEXT(name, NOSPLIT, "func(arena *uint32, passes, lastMask uint64) (done, lanes uint64)")
	Pragma("noescape")
	Doc(doc...)
}

// LoadArgs loads the arguments of a kernel, func(arena *uint32, passes,
// lastMask uint64) (done, lanes uint64), into their registers and zeroes
// pass, the count of passes done.
func LoadArgs(arena, passes, lastMask, pass Register) {
	Load(Param("arena"), arena)
	Load(Param("passes"), passes)
	Load(Param("lastMask"), lastMask)
	XORQ(pass, pass)
}

// EnterAt jumps to label "enter<r>" for r the rotation rot (0..7, loaded
// through RAX), where enter(r) emits the loading of the start state in the
// registers of round r, and then into the round loop at "vround<r>".
func EnterAt(rot Mem, enter func(r int)) {
	MOVQ(rot, RAX)
	for r := 1; r < 8; r++ {
		CMPQ(RAX, U8(r))
		JEQ(LabelRef(fmt.Sprintf("enter%d", r)))
	}
	for r := 0; r < 8; r++ {
		Label(fmt.Sprintf("enter%d", r))
		enter(r)
		JMP(LabelRef(fmt.Sprintf("vround%d", r)))
	}
}

// CountPass counts the pass done and masks lanes, the lanes of L whose
// first word passed, with lastMask if it was the last one (through RAX).
func CountPass(lanes, pass, passes, lastMask Register, L int) {
	INCQ(pass)
	MOVQ(U32(1<<L-1), RAX)
	CMPQ(pass, passes)
	CMOVQEQ(lastMask, RAX)
	ANDQ(RAX, lanes)
}

// EndPass emits the end of a pass (step 7): return the passes done and
// lanes when some lane passed or no pass is left, else start the next
// pass at label "pass".
func EndPass(lanes, pass, passes Register) {
	Comment("7. Return on a candidate or when the passes are done.")
	TESTQ(lanes, lanes)
	JNZ(LabelRef("done"))
	CMPQ(pass, passes)
	JB(LabelRef("pass"))
	Label("done")
	Store(pass, Return("done"))
	Store(lanes, Return("lanes"))
	VZEROUPPER()
	RET()
}
