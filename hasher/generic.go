package hasher

func init() {
	register(kernel{h: genericHasher{}, supported: func() bool { return true }, rank: 0,
		about: "nothing: the pure Go reference kernel, one nonce at a time from the midstate"})
}

// genericHasher is the pure Go reference kernel: it starts every nonce from
// the layout's midstate and compresses the tail blocks.
type genericHasher struct{}

func (genericHasher) Name() string          { return "generic" }
func (genericHasher) Lanes() int            { return 1 }
func (genericHasher) NewSearcher() Searcher { return &genericSearcher{} }

type genericSearcher struct {
	layout *Layout
	buf    []byte
}

func (s *genericSearcher) Search(l *Layout, lo, hi uint64, target Target) (uint64, bool, uint64) {
	if s.layout != l {
		s.buf = append(s.buf[:0], l.Tail...)
		s.layout = l
	}
	digits := s.buf[l.TailOff : l.TailOff+l.Digits]
	PutDigits(digits, lo)
	mask := target.FirstMask()
	for n := lo; n < hi; n++ {
		h := l.Mid
		blockGeneric(&h, s.buf)
		if h[0]&mask == 0 && target.MeetsState(&h) {
			return n, true, n - lo + 1
		}
		IncDigits(digits)
	}
	return hi, false, hi - lo
}
