package pyjson

import (
	"fmt"
	"strconv"
)

// Value is one decoded JSON value. Its dynamic type is one of:
//
//	nil (null), bool, Int, Float, string, []Value (array), Object.
//
// Decode only ever produces those types. Encode accepts them and, for
// convenience, a few plain Go types as well (see Encode).
type Value = any

// Int is an integer of any size, as its canonical decimal text: an optional
// '-' then digits, no leading zeros, never "-0". It is what CPython's json
// module turns a number without fraction or exponent into (a Python int).
//
// Decode only produces canonical Int values. An Int built by hand that is not
// canonical, or that has more than MaxIntDigits digits, is refused by Encode.
type Int string

// Float is a JSON number written with '.', 'e' or 'E' (a Python float).
// NaN and ±Inf are allowed; they are written as NaN, Infinity and -Infinity.
type Float float64

// Object is a JSON object. Keys are strings in WTF-8 (see the package
// documentation): UTF-8, except that lone surrogate code points are kept as
// their 3-byte encoding.
type Object map[string]Value

// MaxIntDigits is CPython's default limit on the number of decimal digits in
// an int converted from or to text (sys.get_int_max_str_digits()). Decode
// refuses integers with more digits, as json.loads raises ValueError for them,
// and Encode refuses them, as json.dumps does.
const MaxIntDigits = 4300

// MaxDepth is the deepest nesting of arrays and objects that Decode and Encode
// accept; the outermost container is at depth 1. CPython has no fixed limit:
// it raises RecursionError when its interpreter stack runs out, which for
// CPython 3.11 happens at 994 levels for a call made at the top of a script
// and earlier for calls made from deeper in a program. See the package
// documentation.
const MaxDepth = 1000

// SyntaxError reports input that json.loads would reject (or that this
// package refuses on purpose, such as UTF-16 input or too deep nesting).
type SyntaxError struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Msg describes the problem, without the "pyjson: " prefix and the offset.
	Msg string
}

// Error returns "pyjson: <Msg> at offset <Offset>".
func (e *SyntaxError) Error() string {
	return "pyjson: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

func syntaxErr(off int, format string, args ...any) *SyntaxError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &SyntaxError{Offset: off, Msg: msg}
}

// IntFromInt64 returns the Int holding n.
func IntFromInt64(n int64) Int { return Int(strconv.FormatInt(n, 10)) }

// IntFromUint64 returns the Int holding n.
func IntFromUint64(n uint64) Int { return Int(strconv.FormatUint(n, 10)) }

// Int64 returns i as an int64. It reports false if i is out of the int64
// range or is not a canonical Int.
func (i Int) Int64() (int64, bool) {
	if !validInt(string(i)) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(i), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// Uint64 returns i as a uint64. It reports false if i is negative, out of the
// uint64 range or not a canonical Int.
func (i Int) Uint64() (uint64, bool) {
	if !validInt(string(i)) || (len(i) > 0 && i[0] == '-') {
		return 0, false
	}
	n, err := strconv.ParseUint(string(i), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// validInt reports whether s is canonical Int text: -?(0|[1-9][0-9]*) and not
// "-0". It does not check the digit limit.
func validInt(s string) bool {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
		if d == "0" {
			return false
		}
	}
	if len(d) == 0 || (d[0] == '0' && len(d) > 1) {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// TypeName names the JSON type of a decoded value for error messages: "null",
// "a boolean", "an integer", "a float", "a string", "an array", "an object",
// or the Go type of a value Decode never returns.
func TypeName(v Value) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case Int:
		return "an integer"
	case Float:
		return "a float"
	case string:
		return "a string"
	case []Value:
		return "an array"
	case Object:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
