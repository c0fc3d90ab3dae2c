package hasher

import (
	"fmt"
	"math"
	"sync"
)

// MaxDigits is the largest nonce length in decimal digits: every uint64
// fits in 20 digits.
const MaxDigits = 20

// Template is a message to mine: prefix || decimal nonce || suffix. It is
// safe for concurrent use.
type Template struct {
	prefix, suffix []byte
	once           [MaxDigits + 1]sync.Once
	layouts        [MaxDigits + 1]*Layout
}

// NewTemplate returns the template of prefix || nonce || suffix. It keeps
// its own copies of both.
func NewTemplate(prefix, suffix []byte) *Template {
	return &Template{
		prefix: append([]byte(nil), prefix...),
		suffix: append([]byte(nil), suffix...),
	}
}

// Prefix returns the bytes before the nonce. The caller must not modify them.
func (t *Template) Prefix() []byte { return t.prefix }

// Suffix returns the bytes after the nonce. The caller must not modify them.
func (t *Template) Suffix() []byte { return t.suffix }

// Layout is the template prepared for nonces of one length. All fields are
// read-only once made.
type Layout struct {
	Digits   int // decimal digits of every nonce in this layout
	MsgLen   int // bytes in the whole message
	NonceOff int // offset of the first nonce digit in the message

	// Msg is the whole message, unpadded, with '0' in every nonce digit:
	// what a kernel that hashes whole messages copies once and then edits.
	Msg []byte

	// Skip is the number of 64-byte blocks that end before the first nonce
	// digit, and Mid the SHA-256 state after hashing them.
	Skip int
	Mid  [8]uint32

	// Tail is the padded message from block Skip on (a multiple of 64
	// bytes), nonce digits '0'; TailOff is the nonce offset in Tail.
	Tail    []byte
	TailOff int

	// NonceBlocks is how many blocks at the start of Tail hold nonce
	// digits (1 or 2); the blocks after them are the same for every nonce.
	NonceBlocks int

	// Blocks is the number of SHA-256 compressions of the whole message,
	// Skip + len(Tail)/64: what "compressions per nonce" counts.
	Blocks int
}

// Layout returns the layout for nonces of n decimal digits, 1 <= n <=
// MaxDigits, computing it on first use.
func (t *Template) Layout(n int) *Layout {
	if n < 1 || n > MaxDigits {
		panic(fmt.Sprintf("hasher: nonce length %d out of range [1, %d]", n, MaxDigits))
	}
	t.once[n].Do(func() { t.layouts[n] = newLayout(t.prefix, t.suffix, n) })
	return t.layouts[n]
}

func newLayout(prefix, suffix []byte, n int) *Layout {
	msg := make([]byte, 0, len(prefix)+n+len(suffix))
	msg = append(msg, prefix...)
	for i := 0; i < n; i++ {
		msg = append(msg, '0')
	}
	msg = append(msg, suffix...)
	l := &Layout{
		Digits:   n,
		MsgLen:   len(msg),
		NonceOff: len(prefix),
		Msg:      msg,
		Skip:     len(prefix) / 64,
		Mid:      iv,
	}
	blockGeneric(&l.Mid, msg[:64*l.Skip])
	rest := msg[64*l.Skip:]
	l.Tail = pad(append(make([]byte, 0, len(rest)+72), rest...), len(msg))
	l.TailOff = l.NonceOff - 64*l.Skip
	l.NonceBlocks = (l.TailOff+n-1)/64 + 1
	l.Blocks = l.Skip + len(l.Tail)/64
	return l
}

// Digits returns the number of decimal digits of n (1 for 0).
func Digits(n uint64) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// pow10 holds 10^i for i in [0, 19].
var pow10 = func() (p [MaxDigits]uint64) {
	p[0] = 1
	for i := 1; i < MaxDigits; i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// DigitRange returns the nonces with exactly n digits as [lo, hi). For n ==
// MaxDigits, hi is the largest uint64, which is itself never searched: the
// nonce space of a search is [0, 2^64-1).
func DigitRange(n int) (lo, hi uint64) {
	switch n {
	case 1:
		return 0, 10
	case MaxDigits:
		return pow10[MaxDigits-1], math.MaxUint64
	}
	return pow10[n-1], pow10[n]
}

// PutDigits writes n as exactly len(dst) decimal digits, zero-padded on the
// left. n must fit.
func PutDigits(dst []byte, n uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}

// IncDigits adds one to the decimal number in dst, in place, as ASCII. It
// reports false on overflow (all nines), leaving dst all zeros.
func IncDigits(dst []byte) bool {
	for i := len(dst) - 1; i >= 0; i-- {
		if dst[i] != '9' {
			dst[i]++
			return true
		}
		dst[i] = '0'
	}
	return false
}
