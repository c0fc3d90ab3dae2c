package pyjson

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// textGen writes random JSON-ish texts, biased towards the corners where
// CPython's behaviour is easy to get wrong: numbers of every shape, escapes
// and surrogates, odd whitespace, duplicate keys.
type textGen struct {
	r *rand.Rand
}

func (g *textGen) ws(b []byte) []byte {
	if g.r.IntN(3) != 0 {
		return b
	}
	for n := g.r.IntN(3); n >= 0; n-- {
		b = append(b, " \t\n\r"[g.r.IntN(4)])
	}
	return b
}

func (g *textGen) value(b []byte, depth int) []byte {
	k := g.r.IntN(12)
	if depth > 4 && k >= 9 {
		k = g.r.IntN(9)
	}
	switch k {
	case 0:
		return append(b, []string{"null", "true", "false", "NaN", "Infinity", "-Infinity"}[g.r.IntN(6)]...)
	case 1, 2:
		return g.integer(b)
	case 3, 4:
		return g.float(b)
	case 5, 6, 7, 8:
		return g.str(b)
	case 9, 10:
		b = append(b, '[')
		n := g.r.IntN(5)
		for i := 0; i < n; i++ {
			if i > 0 {
				b = g.ws(b)
				b = append(b, ',')
			}
			b = g.ws(b)
			b = g.value(b, depth+1)
		}
		b = g.ws(b)
		return append(b, ']')
	default:
		b = append(b, '{')
		n := g.r.IntN(6)
		var keys [][]byte
		for i := 0; i < n; i++ {
			if i > 0 {
				b = g.ws(b)
				b = append(b, ',')
			}
			b = g.ws(b)
			if len(keys) > 0 && g.r.IntN(5) == 0 {
				b = append(b, keys[g.r.IntN(len(keys))]...) // duplicate key
			} else {
				start := len(b)
				b = g.str(b)
				keys = append(keys, append([]byte(nil), b[start:]...))
			}
			b = g.ws(b)
			b = append(b, ':')
			b = g.ws(b)
			b = g.value(b, depth+1)
		}
		b = g.ws(b)
		return append(b, '}')
	}
}

func (g *textGen) digits(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, byte('0'+g.r.IntN(10)))
	}
	return b
}

func (g *textGen) intPart(b []byte) []byte {
	if g.r.IntN(2) == 0 {
		b = append(b, '-')
	}
	if g.r.IntN(4) == 0 {
		return append(b, '0')
	}
	b = append(b, byte('1'+g.r.IntN(9)))
	n := g.r.IntN(20)
	if g.r.IntN(10) == 0 {
		n = g.r.IntN(400)
	}
	return g.digits(b, n)
}

func (g *textGen) integer(b []byte) []byte {
	if g.r.IntN(30) == 0 {
		// Around CPython's 4300-digit limit.
		if g.r.IntN(2) == 0 {
			b = append(b, '-')
		}
		b = append(b, byte('1'+g.r.IntN(9)))
		return g.digits(b, MaxIntDigits-3+g.r.IntN(5))
	}
	return g.intPart(b)
}

func (g *textGen) float(b []byte) []byte {
	switch g.r.IntN(4) {
	case 0:
		// A random double, in one of several spellings.
		f := math.Float64frombits(g.r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = g.r.NormFloat64() * 1e10
		}
		switch g.r.IntN(4) {
		case 0:
			return strconv.AppendFloat(b, f, 'e', -1, 64)
		case 1:
			return strconv.AppendFloat(b, f, 'e', g.r.IntN(25), 64)
		case 2:
			return strconv.AppendFloat(b, f, 'e', 16, 64)
		default:
			return AppendFloat(b, f)
		}
	case 1:
		// Everyday values such as timestamps.
		return strconv.AppendFloat(b, g.r.Float64()*2e9, 'f', g.r.IntN(8)+1, 64)
	default:
		b = g.intPart(b)
		hasFrac, hasExp := g.r.IntN(2) == 0, g.r.IntN(2) == 0
		if !hasFrac && !hasExp {
			hasFrac = true
		}
		if hasFrac {
			b = append(b, '.')
			if g.r.IntN(3) == 0 {
				b = append(b, strings.Repeat("0", g.r.IntN(30))...)
			}
			n := 1 + g.r.IntN(20)
			if g.r.IntN(15) == 0 {
				n = g.r.IntN(1500)
			}
			b = g.digits(b, n)
		}
		if hasExp {
			b = append(b, "eE"[g.r.IntN(2)])
			switch g.r.IntN(3) {
			case 0:
				b = append(b, '-')
			case 1:
				b = append(b, '+')
			}
			if g.r.IntN(4) == 0 {
				b = append(b, '0')
			}
			switch g.r.IntN(6) {
			case 0:
				b = g.digits(b, 1+g.r.IntN(25))
			case 1:
				b = strconv.AppendInt(b, int64(300+g.r.IntN(40)), 10)
			default:
				b = g.digits(b, 1+g.r.IntN(2))
			}
		}
		return b
	}
}

var escapes = []string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`}

func (g *textGen) hex4(b []byte, cp int) []byte {
	const lower, upper = "0123456789abcdef", "0123456789ABCDEF"
	h := lower
	if g.r.IntN(3) == 0 {
		h = upper
	}
	return append(b, '\\', 'u', h[cp>>12&15], h[cp>>8&15], h[cp>>4&15], h[cp&15])
}

func (g *textGen) str(b []byte) []byte {
	b = append(b, '"')
	n := g.r.IntN(8)
	for i := 0; i < n; i++ {
		switch g.r.IntN(14) {
		case 0, 1, 2:
			b = append(b, byte(0x20+g.r.IntN(0x60))) // printable ASCII and DEL
			if b[len(b)-1] == '"' || b[len(b)-1] == '\\' {
				b[len(b)-1] = 'x'
			}
		case 3:
			b = append(b, escapes[g.r.IntN(len(escapes))]...)
		case 4:
			b = g.hex4(b, g.r.IntN(0x10000))
		case 5:
			b = g.hex4(b, g.r.IntN(0x80))
		case 6: // escaped pair, maybe broken
			hi, lo := 0xD800+g.r.IntN(0x400), 0xDC00+g.r.IntN(0x400)
			switch g.r.IntN(4) {
			case 0:
				b = g.hex4(g.hex4(b, lo), hi)
			case 1:
				b = g.hex4(b, hi)
			default:
				b = g.hex4(g.hex4(b, hi), lo)
			}
		case 7: // raw surrogate, next to escaped or raw ones
			b = appendWTF8(b, rune(0xD800+g.r.IntN(0x800)))
		case 8:
			b = appendWTF8(b, rune(0x80+g.r.IntN(0x800-0x80)))
		case 9:
			b = appendWTF8(b, rune(0x800+g.r.IntN(0x10000-0x800)))
		case 10:
			b = appendWTF8(b, rune(0x10000+g.r.IntN(0x100000)))
		case 11:
			b = append(b, "é€😀\u2028\ufeff\uffff\u00a0"...)
		case 12:
			if g.r.IntN(20) == 0 {
				b = append(b, byte(g.r.IntN(0x20))) // raw control character
			} else {
				b = append(b, 'k')
			}
		default:
			b = append(b, "ab"[g.r.IntN(2)])
		}
	}
	return append(b, '"')
}

const mutationBytes = "[]{},:\"\\ 0123456789eE.-+tnfuNIa\x00\x01\x1f\x7f\x80\xbf\xc0\xed\xa0\xef\xf0\xf4\xff"

// mutate damages a text a little, to compare how errors are detected.
func (g *textGen) mutate(b []byte) []byte {
	for n := 1 + g.r.IntN(3); n > 0; n-- {
		if len(b) == 0 {
			return append(b, mutationBytes[g.r.IntN(len(mutationBytes))])
		}
		i := g.r.IntN(len(b))
		switch g.r.IntN(4) {
		case 0:
			b = append(b[:i], b[i+1:]...)
		case 1:
			b = append(b[:i], append([]byte{mutationBytes[g.r.IntN(len(mutationBytes))]}, b[i:]...)...)
		case 2:
			b[i] = mutationBytes[g.r.IntN(len(mutationBytes))]
		default:
			j := i + g.r.IntN(len(b)-i)
			b = append(b[:j], append(append([]byte(nil), b[i:j]...), b[j:]...)...)
		}
	}
	return b
}

// text returns one random input: mostly valid, sometimes damaged, with
// optional surrounding whitespace or a BOM.
func (g *textGen) text() []byte {
	var b []byte
	if g.r.IntN(50) == 0 {
		b = append(b, "\xef\xbb\xbf"...)
	}
	b = g.ws(b)
	b = g.value(b, 0)
	b = g.ws(b)
	if g.r.IntN(4) == 0 {
		b = g.mutate(b)
	}
	return b
}
