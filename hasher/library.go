package hasher

import (
	"crypto/sha256"

	simd "github.com/minio/sha256-simd"
)

func init() {
	register(kernel{h: &libHasher{name: "std", sum: sha256.Sum256}, supported: func() bool { return true }, rank: 10,
		about: "nothing: Go's crypto/sha256 (SHA-NI or AVX2 inside when the CPU has them), whole message per nonce"})
	register(kernel{h: &libHasher{name: "simd", sum: simd.Sum256}, supported: func() bool { return true }, rank: 9,
		about: "nothing: github.com/minio/sha256-simd (SHA-NI or ARM SHA2 inside when the CPU has them), whole message per nonce"})
}

// libHasher runs a library's one-shot SHA-256 over the whole message per
// nonce, with the digits edited in place in a per-worker copy. It is used
// by pointer: a struct holding a func is not comparable, and Hasher values
// are compared (slices.Contains, map keys).
type libHasher struct {
	name string
	sum  func([]byte) [32]byte
}

func (h *libHasher) Name() string          { return h.name }
func (h *libHasher) Lanes() int            { return 1 }
func (h *libHasher) NewSearcher() Searcher { return &libSearcher{sum: h.sum} }

type libSearcher struct {
	sum    func([]byte) [32]byte
	layout *Layout
	buf    []byte
}

func (s *libSearcher) Search(l *Layout, lo, hi uint64, target Target) (uint64, bool, uint64) {
	if s.layout != l {
		s.buf = append(s.buf[:0], l.Msg...)
		s.layout = l
	}
	digits := s.buf[l.NonceOff : l.NonceOff+l.Digits]
	PutDigits(digits, lo)
	// The first 32 bits decide nearly every case; MeetsDigest only runs
	// for the one digest in 2^bits that passes.
	mask := target.FirstMask()
	for n := lo; n < hi; n++ {
		d := s.sum(s.buf)
		if (uint32(d[0])<<24|uint32(d[1])<<16|uint32(d[2])<<8|uint32(d[3]))&mask == 0 && target.MeetsDigest(&d) {
			return n, true, n - lo + 1
		}
		IncDigits(digits)
	}
	return hi, false, hi - lo
}

// NewHeaderSearcher returns the library's header mode: the whole sha256d
// of the 80-byte header per nonce, two one-shot hashes.
func (h *libHasher) NewHeaderSearcher() HeaderSearcher { return &libHeaderSearcher{sum: h.sum} }

type libHeaderSearcher struct {
	sum func([]byte) [32]byte
	hdr Header
	d   [32]byte // a field, not a local: the sum's argument escapes
}

func (s *libHeaderSearcher) SearchHeader(j *HeaderJob, lo, hi uint64, target HeaderTarget) (uint64, bool, uint64) {
	s.hdr = j.Header
	for n := lo; n < hi; n++ {
		s.hdr.SetNonce(uint32(n))
		s.d = s.sum(s.hdr[:])
		s.d = s.sum(s.d[:])
		if target.Meets(&s.d) {
			return n, true, n - lo + 1
		}
	}
	return hi, false, hi - lo
}
