package pyjson

// This file handles WTF-8 (more precisely "generalized UTF-8"): every code
// point 0..0x10FFFF, surrogates included, is encoded on its own with the usual
// UTF-8 rules. A Python str is a sequence of such code points, so this is a
// faithful, one-to-one way to hold any Python str in a Go string, and byte
// order of the encoding equals code point order.

// decodeWTF8 decodes the non-ASCII code point starting at s[i] (s[i] >= 0x80).
// It returns size 0 if the bytes there are not a well-formed sequence. The
// accepted sequences are exactly what CPython's UTF-8 decoder accepts with the
// 'surrogatepass' error handler: shortest-form UTF-8 for U+0080..U+10FFFF,
// where U+D800..U+DFFF (ED A0..BF xx) are allowed.
func decodeWTF8[T string | []byte](s T, i int) (cp rune, size int) {
	n := len(s) - i
	b0 := s[i]
	switch {
	case b0 >= 0xC2 && b0 <= 0xDF:
		if n < 2 || !cont(s[i+1]) {
			return 0, 0
		}
		return rune(b0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
	case b0 >= 0xE0 && b0 <= 0xEF:
		if n < 3 || !cont(s[i+1]) || !cont(s[i+2]) {
			return 0, 0
		}
		if b0 == 0xE0 && s[i+1] < 0xA0 { // overlong
			return 0, 0
		}
		return rune(b0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
	case b0 >= 0xF0 && b0 <= 0xF4:
		if n < 4 || !cont(s[i+1]) || !cont(s[i+2]) || !cont(s[i+3]) {
			return 0, 0
		}
		if (b0 == 0xF0 && s[i+1] < 0x90) || (b0 == 0xF4 && s[i+1] > 0x8F) {
			return 0, 0 // overlong, or above U+10FFFF
		}
		return rune(b0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F), 4
	}
	return 0, 0
}

func cont(b byte) bool { return b&0xC0 == 0x80 }

// appendWTF8 appends the encoding of code point cp (0..0x10FFFF, surrogates
// allowed).
func appendWTF8(dst []byte, cp rune) []byte {
	switch {
	case cp < 0x80:
		return append(dst, byte(cp))
	case cp < 0x800:
		return append(dst, 0xC0|byte(cp>>6), 0x80|byte(cp)&0x3F)
	case cp < 0x10000:
		return append(dst, 0xE0|byte(cp>>12), 0x80|byte(cp>>6)&0x3F, 0x80|byte(cp)&0x3F)
	default:
		return append(dst, 0xF0|byte(cp>>18), 0x80|byte(cp>>12)&0x3F, 0x80|byte(cp>>6)&0x3F, 0x80|byte(cp)&0x3F)
	}
}

// validWTF8 reports whether s is well-formed WTF-8 in the sense above.
func validWTF8(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < 0x80 {
			i++
			continue
		}
		_, n := decodeWTF8(s, i)
		if n == 0 {
			return false
		}
		i += n
	}
	return true
}
