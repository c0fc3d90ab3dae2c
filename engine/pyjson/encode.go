package pyjson

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
)

// Encode returns the text CPython 3.11's json.dumps(v, sort_keys=True) gives
// for the Python value v stands for: separators ", " and ": ", ensure_ascii,
// NaN and infinities written as NaN, Infinity and -Infinity, object keys
// sorted by code point at every depth.
//
// Besides the types listed at Value, Encode accepts int, int64 and uint64 (as
// integers), float64 (as Float), []any (it is []Value) and map[string]any (as
// Object). Any other type is an error naming the Go type. Strings and keys
// must be valid WTF-8; Int values must be canonical with at most MaxIntDigits
// digits; nesting may not be deeper than MaxDepth.
func Encode(v Value) ([]byte, error) {
	return AppendEncode(nil, v)
}

// AppendEncode appends Encode(v) to dst and returns the extended slice. On
// error it returns dst as it was given, with the error. Apart from growing
// dst it does not allocate, except for a reused scratch list of keys used to
// sort objects.
func AppendEncode(dst []byte, v Value) ([]byte, error) {
	n := len(dst)
	e := encoderPool.Get().(*encoder)
	out, err := e.value(dst, v, 0)
	clear(e.keys[:cap(e.keys)])
	e.keys = e.keys[:0]
	encoderPool.Put(e)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

type encoder struct {
	// keys is a stack of object keys: each object being written appends its
	// keys, sorts them in place and truncates them away when done.
	keys []string
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

var errDepth = fmt.Errorf("pyjson: cannot encode value nested deeper than %d levels", MaxDepth)

func (e *encoder) value(dst []byte, v Value, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case Int:
		if !validInt(string(x)) {
			return dst, fmt.Errorf("pyjson: cannot encode Int %.40q: not a canonical integer", string(x))
		}
		if n := len(x) - btoi(x[0] == '-'); n > MaxIntDigits {
			return dst, fmt.Errorf("pyjson: cannot encode Int with %d digits, over CPython's %d-digit limit", n, MaxIntDigits)
		}
		return append(dst, x...), nil
	case Float:
		return AppendFloat(dst, float64(x)), nil
	case string:
		out, ok := appendString(dst, x)
		if !ok {
			return dst, fmt.Errorf("pyjson: cannot encode string %.40q: not valid WTF-8", x)
		}
		return out, nil
	case []any:
		if depth >= MaxDepth {
			return dst, errDepth
		}
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',', ' ')
			}
			var err error
			if dst, err = e.value(dst, el, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case Object:
		return e.object(dst, x, depth)
	case map[string]any:
		return e.object(dst, x, depth)
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return AppendFloat(dst, x), nil
	}
	return dst, fmt.Errorf("pyjson: cannot encode a value of Go type %T", v)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (e *encoder) object(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return dst, errDepth
	}
	if len(m) == 0 {
		return append(dst, '{', '}'), nil
	}
	base := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	n := len(e.keys) - base
	// Go compares strings bytewise, and the byte order of WTF-8 is the code
	// point order Python uses to compare str.
	slices.Sort(e.keys[base:])
	dst = append(dst, '{')
	var err error
	for i := 0; i < n; i++ {
		// Nested objects push onto e.keys and may move it; index it afresh.
		k := e.keys[base+i]
		if i > 0 {
			dst = append(dst, ',', ' ')
		}
		var ok bool
		if dst, ok = appendString(dst, k); !ok {
			err = fmt.Errorf("pyjson: cannot encode object key %.40q: not valid WTF-8", k)
			break
		}
		dst = append(dst, ':', ' ')
		if dst, err = e.value(dst, m[k], depth+1); err != nil {
			break
		}
	}
	clear(e.keys[base:])
	e.keys = e.keys[:base]
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as json.dumps writes a str with ensure_ascii=True:
// in double quotes, with \" \\ \n \r \t \b \f, other characters below 0x20
// and 0x7f as \u00xx, every code point above 0x7e as \uxxxx (lower-case hex),
// astral code points as a surrogate pair of escapes, and lone surrogates
// (held in s as WTF-8) as their own \udxxx. '/', '<', '>' and '&' are not
// escaped.
//
// s should be WTF-8; each byte that does not start a well-formed sequence is
// written as \ufffd. (Encode refuses such strings instead.)
func AppendString(dst []byte, s string) []byte {
	dst, _ = appendString(dst, s)
	return dst
}

// appendString is AppendString that also reports whether s was valid WTF-8.
func appendString(dst []byte, s string) ([]byte, bool) {
	ok := true
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		if c < 0x80 {
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendU(dst, rune(c))
			}
			i++
		} else {
			cp, n := decodeWTF8(s, i)
			if n == 0 {
				ok = false
				cp, n = 0xFFFD, 1
			}
			if cp >= 0x10000 {
				cp -= 0x10000
				dst = appendU(dst, 0xD800+cp>>10)
				dst = appendU(dst, 0xDC00+cp&0x3FF)
			} else {
				dst = appendU(dst, cp)
			}
			i += n
		}
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), ok
}

// appendU appends \uxxxx for a code point below 0x10000.
func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// AppendFloat appends f as json.dumps writes a Python float: NaN, Infinity,
// -Infinity, or else float.__repr__: the shortest digits that read back as f,
// in fixed notation with at least one digit after the point ("100.0",
// "0.0001", "-0.0") when the decimal exponent is between -4 and 15, and in
// scientific notation with a signed exponent of at least two digits
// otherwise ("1e+16", "1.5e-05", "5e-324").
func AppendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	var tmp [32]byte
	// Shortest round-trip digits, as d[.ddd]e±XX; Python's repr picks the
	// same digits (the shortest string that rounds back, nearest to f).
	b := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	ei := len(b) - 1
	for b[ei] != 'e' {
		ei--
	}
	exp := 0
	for _, c := range b[ei+2:] {
		exp = exp*10 + int(c-'0')
	}
	if b[ei+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		// Go's layout is exactly Python's here.
		return append(dst, b...)
	}
	first, rest := b[0], b[:ei]
	if len(rest) > 1 {
		rest = rest[2:] // digits after the point
	} else {
		rest = rest[:0]
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		dst = append(dst, first)
		return append(dst, rest...)
	}
	dst = append(dst, first)
	if len(rest) <= exp {
		dst = append(dst, rest...)
		for i := len(rest); i < exp; i++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, rest[:exp]...)
	dst = append(dst, '.')
	return append(dst, rest[exp:]...)
}
