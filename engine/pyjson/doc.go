// Package pyjson reads and writes JSON exactly as CPython 3.11 does, byte for
// byte. It exists because the chain's block hash is defined by the reference
// node, a Python program:
//
//	sha256(json.dumps(block, sort_keys=True).encode())
//
// so any text this package writes differently from CPython, and any input it
// accepts or rejects differently, is a consensus bug. Decode stands for
// json.loads(data) on a bytes object, Encode for json.dumps(value,
// sort_keys=True) with the default separators (", " and ": "),
// ensure_ascii=True and allow_nan=True, and Canonical for the two in a row.
// All functions are safe for concurrent use.
//
// # What CPython does when decoding
//
// json.loads first turns the bytes into a str. json.detect_encoding looks at
// the first bytes: a UTF-32 or UTF-16 byte order mark, or NUL bytes in the
// first four (or two) bytes, select UTF-32 or UTF-16; a UTF-8 byte order mark
// selects 'utf-8-sig', which drops it; anything else is UTF-8. The bytes are
// decoded with the 'surrogatepass' error handler, so the 3-byte encodings of
// U+D800..U+DFFF (ED A0..BF xx) are accepted as lone surrogate code points;
// any other malformed UTF-8 is an error.
//
// The scanner in _json.c then reads one value, skipping only space, tab, LF
// and CR around tokens, and reports "extra data" if anything other than that
// whitespace follows. Values are null, true, false, NaN, Infinity, -Infinity
// (exactly these spellings: no "-NaN", no space after '-'), strings, arrays,
// objects and numbers matching
//
//	(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?
//
// The regex only takes a fraction or exponent if it is complete, so "1." is
// the number 1 followed by a stray '.', and "01" is 0 followed by 1: both
// fail, as do ".5" and "+1". A number without fraction or exponent becomes
// an int of any size ("-0" is 0), but int() refuses text of more than 4300
// digits (sys.get_int_max_str_digits()), so such input fails. Any other
// number becomes float(text): correctly rounded, with no limit on its length,
// ±inf when it overflows and ±0.0 when it underflows.
//
// Strings are strict: raw characters below 0x20 are errors (0x7f is not),
// and the only escapes are \" \\ \/ \b \f \n \r \t and \uXXXX with hex
// digits of either case. A \u escape of a high surrogate immediately followed
// by a \u escape of a low surrogate makes one astral character; every other
// surrogate stays a lone code point, including a reversed pair, a high escape
// followed by a non-surrogate escape, and a surrogate escape next to a raw
// (surrogatepass-decoded) surrogate.
//
// In an object a repeated key keeps its last value. Nesting is limited only by
// the interpreter's recursion limit: RecursionError comes at 994 levels when
// json.loads is called at the top of a script, and sooner from deeper code.
//
// # What CPython does when encoding
//
// json.dumps with sort_keys=True sorts each object's keys (Python str
// comparison, that is by code point) and writes ", " between items and ": "
// after keys; empty containers are [] and {}. With ensure_ascii, strings keep
// the characters 0x20..0x7e except '"' and '\\'; those two and \n \r \t \b \f
// get their short escapes, and every other code point is written as \uxxxx in
// lower-case hex: control characters, 0x7f, everything above, astral
// characters as a surrogate pair of escapes, lone surrogates as themselves.
// Ints are written by int.__repr__ (which also refuses more than 4300
// digits), floats by float.__repr__, except NaN, Infinity and -Infinity.
// float.__repr__ writes the shortest digits that read back as the same
// double; it uses plain notation, with at least one digit after the point,
// when the decimal exponent is from -4 to 15 (0.0001, 1000000000000000.0,
// -0.0), and otherwise d.ddde±XX with at least two exponent digits (1e-05,
// 1e+16, 5e-324).
//
// # Where Go differs, and what this package does about it
//
// Strings. A Python str is a sequence of code points 0..0x10FFFF, lone
// surrogates included, which a valid UTF-8 Go string cannot hold. Strings and
// object keys are therefore Go strings in WTF-8, or more exactly generalized
// UTF-8: each code point encoded on its own with the UTF-8 rules, surrogates
// as 3 bytes. This maps every Python str to exactly one Go string and back,
// and the bytewise order of these strings is the code point order, so sorting
// keys with Go's string comparison is Python's sort. A surrogate pair that
// Python holds as two code points (from raw surrogate bytes) stays two 3-byte
// sequences and is not merged into one 4-byte character, because Python does
// not merge it either.
//
// Numbers. Python ints have no size limit: Int keeps the canonical decimal
// text. Python floats are IEEE doubles, like Float. strconv.ParseFloat is
// correctly rounded for ordinary input, but stops reading an exponent beyond
// 10000, which is wrong for texts with thousands of leading or trailing
// digits and an exponent to match, so long numbers are first rewritten as
// 0.DDDe±P with a small P (or decided to be ±Inf or ±0 outright), and
// mantissas past 800 significant digits are cut with a sticky digit, which
// never changes the rounding of a double. For output, strconv's shortest
// formatting picks the same digits as Python's repr; only the layout is
// rearranged.
//
// Encodings. Input that CPython would decode as UTF-16 or UTF-32 is refused
// with an error naming that encoding. Such input always contains bytes that
// make it invalid as UTF-8 JSON, so only inputs CPython accepts in an
// encoding nobody uses on the wire are affected. A UTF-8 byte order mark is
// skipped, as CPython does for bytes (it rejects one only at the start of a
// str).
//
// Nesting. Since CPython's limit depends on its stack, it cannot be matched
// exactly. Decode and Encode refuse nesting deeper than MaxDepth (1000)
// arrays and objects, instead of crashing the Go process on hostile input.
// Between CPython's limit in a given program and MaxDepth the two may
// disagree.
//
// Errors. CPython's messages and its offsets (in characters) are not part of
// the hashing rule; only whether input is accepted is. Decode returns a
// *SyntaxError with a byte offset and a message in the spirit of CPython's.
//
// # CPython behaviour worth knowing
//
// Canonical output is not always a fixed point. When a key contains a high and
// a low surrogate as two code points (only possible from raw surrogate bytes
// in the input), it is written exactly like the astral character they stand
// for, yet it is sorted by its first surrogate. The output can then repeat a
// key ({"\ud83d\ude00": 2, "\ud83d\ude00": 1}) or list keys out of order, and
// decoding it again gives something else. This package reproduces that,
// because the hash is defined by what CPython writes.
package pyjson
