package hasher

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// HeaderLen is the size of a Bitcoin block header in bytes.
const HeaderLen = 80

// Header is an 80-byte Bitcoin block header: version, previous block hash,
// merkle root, nTime, nBits and nonce, the integers little-endian.
type Header [HeaderLen]byte

// Offsets of the header fields the miner reads and writes.
const (
	headerTimeOff  = 68
	headerBitsOff  = 72
	headerNonceOff = 76
)

// ParseHeader reads a header written as 160 hex characters (surrounding
// white space allowed).
func ParseHeader(s string) (Header, error) {
	var h Header
	s = strings.TrimSpace(s)
	if len(s) != 2*HeaderLen {
		return h, fmt.Errorf("header: want %d hex characters (80 bytes), got %d characters", 2*HeaderLen, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("header: not hex: %v", err)
	}
	return h, nil
}

// String returns the header as 160 hex characters.
func (h *Header) String() string { return hex.EncodeToString(h[:]) }

// Time returns nTime.
func (h *Header) Time() uint32 { return binary.LittleEndian.Uint32(h[headerTimeOff:]) }

// SetTime sets nTime.
func (h *Header) SetTime(t uint32) { binary.LittleEndian.PutUint32(h[headerTimeOff:], t) }

// Bits returns nBits, the compact target.
func (h *Header) Bits() uint32 { return binary.LittleEndian.Uint32(h[headerBitsOff:]) }

// Nonce returns the nonce.
func (h *Header) Nonce() uint32 { return binary.LittleEndian.Uint32(h[headerNonceOff:]) }

// SetNonce sets the nonce.
func (h *Header) SetNonce(n uint32) { binary.LittleEndian.PutUint32(h[headerNonceOff:], n) }

// Sha256d returns SHA-256(SHA-256(header)) with the pure Go compression
// function: the reference the header kernels are checked against.
func Sha256d(h *Header) [32]byte {
	first := Sum(h[:])
	return Sum(first[:])
}

// ReverseHex writes a hash the way Bitcoin shows it: the bytes in reverse
// order, so that the number the hash stands for reads most significant
// digit first.
func ReverseHex(d *[32]byte) string {
	var r [32]byte
	for i := range d {
		r[i] = d[31-i]
	}
	return hex.EncodeToString(r[:])
}

// HeaderTarget is a Bitcoin proof-of-work target: a header meets it when
// its sha256d, read as a little-endian 256-bit number, is at most the
// target. Limb i holds bits 32i..32i+31 of the target, so limb 7 is the
// most significant.
type HeaderTarget struct {
	limb [8]uint32
}

// ErrCompact is returned (wrapped) for an nBits value that is no valid
// target: negative, zero or overflowing 256 bits.
var ErrCompact = errors.New("invalid compact target (nBits)")

// CompactTarget decodes nBits, the compact form of a target as Bitcoin
// defines it: the low 23 bits are the mantissa, bit 23 the sign, the top
// byte the size in bytes, target = mantissa * 256^(size-3). Negative,
// zero and overflowing targets are errors, as in Bitcoin Core.
func CompactTarget(nBits uint32) (HeaderTarget, error) {
	var t HeaderTarget
	size := int(nBits >> 24)
	mant := nBits & 0x007fffff
	if mant != 0 && nBits&0x00800000 != 0 {
		return t, fmt.Errorf("%w: %08x is negative", ErrCompact, nBits)
	}
	var b [32]byte // little-endian bytes of the target
	for i := 0; i < 3; i++ {
		v := byte(mant >> (8 * (2 - i))) // most significant byte first
		pos := size - 1 - i
		if v == 0 {
			continue
		}
		if pos < 0 {
			continue // shifted out to the right
		}
		if pos >= 32 {
			return t, fmt.Errorf("%w: %08x overflows 256 bits", ErrCompact, nBits)
		}
		b[pos] = v
	}
	for i := range t.limb {
		t.limb[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	if t.limb == [8]uint32{} {
		return t, fmt.Errorf("%w: %08x is zero", ErrCompact, nBits)
	}
	return t, nil
}

// ParseHeaderTarget reads a target written as up to 64 hex characters, most
// significant first (the way block explorers print targets and hashes).
func ParseHeaderTarget(s string) (HeaderTarget, error) {
	var t HeaderTarget
	s = strings.TrimPrefix(strings.TrimSpace(s), "0x")
	if s == "" || len(s) > 64 {
		return t, fmt.Errorf("target: want 1 to 64 hex characters, got %d", len(s))
	}
	s = strings.Repeat("0", 64-len(s)) + s
	var be [32]byte
	if _, err := hex.Decode(be[:], []byte(s)); err != nil {
		return t, fmt.Errorf("target: not hex: %v", err)
	}
	for i := range t.limb {
		t.limb[i] = binary.BigEndian.Uint32(be[28-4*i:])
	}
	return t, nil
}

// Top returns the most significant 32 bits of the target. A kernel
// rejects a hash whose most significant 32 bits are above it and passes
// the others (candidates) to Meets.
func (t HeaderTarget) Top() uint32 { return t.limb[7] }

// Meets reports whether a sha256d digest, read as a little-endian number,
// is at most the target.
func (t HeaderTarget) Meets(d *[32]byte) bool {
	for i := 7; i >= 0; i-- {
		v := binary.LittleEndian.Uint32(d[4*i:])
		if v != t.limb[i] {
			return v < t.limb[i]
		}
	}
	return true
}

// Hex returns the target as 64 hex characters, most significant first.
func (t HeaderTarget) Hex() string {
	var be [32]byte
	for i, v := range t.limb {
		binary.BigEndian.PutUint32(be[28-4*i:], v)
	}
	return hex.EncodeToString(be[:])
}

// HeaderJob is a header prepared for mining: everything about it that does
// not depend on the nonce, computed once. It is read-only once made, so
// any number of workers can share it.
type HeaderJob struct {
	Header Header // the header as given; its nonce field is ignored

	// Mid is the SHA-256 state after the first 64 bytes (version,
	// previous hash and the first 28 bytes of the merkle root).
	Mid [8]uint32
	// W is the second block of the first hash as message words: merkle
	// root tail, nTime, nBits, the nonce word W[3] as zero, then padding.
	W [16]uint32
	// Pre is the state after rounds 0..2 of the second block, which read
	// only W[0..2].
	Pre [8]uint32
	// Sched holds, for t = 16..63, the part of W[t] of the second block
	// that does not depend on the nonce (see HeaderVar); for t < 16 it is
	// W[t] itself.
	Sched [64]uint32
}

// HeaderVar reports whether word t of the schedule of the first hash's
// second block depends on the nonce: W[3] does, and W[t] for t >= 16
// does when one of the words it is made from does. Kernels compute only
// these per nonce, adding HeaderJob.Sched[t], the sum of the terms that
// do not.
func HeaderVar(t int) bool { return headerVar[t] }

var headerVar = func() (v [64]bool) {
	v[3] = true
	for t := 16; t < 64; t++ {
		v[t] = v[t-2] || v[t-7] || v[t-15] || v[t-16]
	}
	return v
}()

func sigma0(x uint32) uint32 {
	return bits.RotateLeft32(x, -7) ^ bits.RotateLeft32(x, -18) ^ (x >> 3)
}

func sigma1(x uint32) uint32 {
	return bits.RotateLeft32(x, -17) ^ bits.RotateLeft32(x, -19) ^ (x >> 10)
}

// headerConstPart returns the sum of the terms of W[t] (t >= 16) that do
// not depend on the nonce; w must hold the nonce-independent words so far.
func headerConstPart(w *[64]uint32, t int) uint32 {
	var c uint32
	if !headerVar[t-2] {
		c += sigma1(w[t-2])
	}
	if !headerVar[t-7] {
		c += w[t-7]
	}
	if !headerVar[t-15] {
		c += sigma0(w[t-15])
	}
	if !headerVar[t-16] {
		c += w[t-16]
	}
	return c
}

// NewHeaderJob prepares h for mining.
func NewHeaderJob(h *Header) *HeaderJob {
	j := &HeaderJob{Header: *h, Mid: iv}
	blockGeneric(&j.Mid, h[:64])
	for i := 0; i < 4; i++ {
		j.W[i] = binary.BigEndian.Uint32(h[64+4*i:])
	}
	j.W[3] = 0
	j.W[4] = 0x80000000
	j.W[15] = HeaderLen * 8
	var w [64]uint32
	copy(w[:], j.W[:])
	for t := 16; t < 64; t++ {
		c := headerConstPart(&w, t)
		j.Sched[t] = c
		if !headerVar[t] {
			w[t] = c
		}
	}
	copy(j.Sched[:16], j.W[:])
	j.Pre = j.Mid
	for t := 0; t < 3; t++ {
		roundWK(&j.Pre, j.W[t]+k256[t])
	}
	return j
}

// WithNonce returns the job's header with nonce n.
func (j *HeaderJob) WithNonce(n uint32) Header {
	h := j.Header
	h.SetNonce(n)
	return h
}

// HeaderSearcher hashes ranges of header nonces for one worker. It owns
// scratch memory and is not safe for concurrent use; after its first use
// on a job it allocates nothing.
type HeaderSearcher interface {
	// SearchHeader hashes the nonces lo, lo+1, ..., hi-1 (hi <= 2^32) of
	// job j in order and returns the lowest one whose sha256d meets
	// target, or hi and false. hashes counts the nonces hashed, as
	// Searcher.Search does.
	SearchHeader(j *HeaderJob, lo, hi uint64, target HeaderTarget) (nonce uint64, found bool, hashes uint64)
}

// HeaderHasher is a kernel that also mines Bitcoin headers.
type HeaderHasher interface {
	Hasher
	NewHeaderSearcher() HeaderSearcher
}

// ErrNoHeaderMode is returned by HeaderKernel for a kernel without a
// header mode.
var ErrNoHeaderMode = errors.New("kernel has no Bitcoin header mode")

// HeaderKernel returns h's header mode.
func HeaderKernel(h Hasher) (HeaderHasher, error) {
	hh, ok := h.(HeaderHasher)
	if !ok {
		return nil, fmt.Errorf("%q: %w", h.Name(), ErrNoHeaderMode)
	}
	return hh, nil
}

// HeaderCanonical is Canonical for header mode, where a kernel's names
// may share code differently: "shani" runs the header kernel of "shani2",
// and "shani4" one of its own. Benchmarks use it to measure each header
// kernel once.
func HeaderCanonical(name string) string {
	if k, ok := kernels[name]; ok {
		if a, ok := k.h.(headerAliaser); ok {
			return a.headerAlias()
		}
	}
	return Canonical(name)
}

// headerAliaser is a kernel whose names share header code differently
// from JSON code: headerAlias names the kernel whose header mode it runs,
// possibly itself.
type headerAliaser interface{ headerAlias() string }

// HeaderKernels returns the kernels with a header mode that this CPU and
// build run, fastest first.
func HeaderKernels() []HeaderHasher {
	var hs []HeaderHasher
	for _, h := range Available() {
		if hh, ok := h.(HeaderHasher); ok {
			hs = append(hs, hh)
		}
	}
	return hs
}

// confirmHeader finishes the hash of a candidate nonce with the reference
// code and checks it against the whole target.
func confirmHeader(j *HeaderJob, n uint32, target HeaderTarget) bool {
	d := j.Sum(n)
	return target.Meets(&d)
}

// Sum returns the sha256d of the job's header with nonce n, from the
// midstate with the pure Go compression function. It allocates nothing.
func (j *HeaderJob) Sum(n uint32) [32]byte {
	var blk [64]byte
	for i, w := range j.W {
		binary.BigEndian.PutUint32(blk[4*i:], w)
	}
	binary.LittleEndian.PutUint32(blk[12:], n)
	h := j.Mid
	blockGeneric(&h, blk[:])
	for i := range blk {
		blk[i] = 0
	}
	for i, w := range h {
		binary.BigEndian.PutUint32(blk[4*i:], w)
	}
	blk[32] = 0x80
	binary.BigEndian.PutUint64(blk[56:], 32*8)
	h = iv
	blockGeneric(&h, blk[:])
	return stateDigest(&h)
}
