package pyjson

import (
	"math"
	"strconv"
)

// Decode parses data the way CPython 3.11's json.loads parses a bytes object
// and returns the value, built only from the types listed at Value.
//
// data must be UTF-8 (a leading UTF-8 byte order mark is skipped, as CPython
// does for bytes). Input that CPython would decode as UTF-16 or UTF-32 is
// refused. Every error is a *SyntaxError.
func Decode(data []byte) (Value, error) {
	start, err := checkEncoding(data)
	if err != nil {
		return nil, err
	}
	d := decoder{data: data, pos: start}
	d.skipWS()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipWS()
	if d.pos != len(d.data) {
		return nil, d.errUnexpected(d.pos, "extra data")
	}
	return v, nil
}

// Canonical returns Encode(Decode(data)): the text json.dumps(json.loads(data),
// sort_keys=True) gives in CPython 3.11.
func Canonical(data []byte) ([]byte, error) {
	v, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return AppendEncode(make([]byte, 0, len(data)+16), v)
}

// checkEncoding mirrors json.detect_encoding, which json.loads applies to
// bytes. It returns the offset where the text starts (3 after a UTF-8 BOM) or
// an error if CPython would pick UTF-16 or UTF-32.
func checkEncoding(b []byte) (int, error) {
	has := func(p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }
	enc := ""
	switch {
	case has("\x00\x00\xfe\xff") || has("\xff\xfe\x00\x00"):
		enc = "utf-32"
	case has("\xfe\xff") || has("\xff\xfe"):
		enc = "utf-16"
	case has("\xef\xbb\xbf"):
		return 3, nil
	case len(b) >= 4 && b[0] == 0:
		enc = "utf-16-be"
		if b[1] == 0 {
			enc = "utf-32-be"
		}
	case len(b) >= 4 && b[1] == 0:
		enc = "utf-16-le"
		if b[2] == 0 && b[3] == 0 {
			enc = "utf-32-le"
		}
	case len(b) == 2 && b[0] == 0:
		enc = "utf-16-be"
	case len(b) == 2 && b[1] == 0:
		enc = "utf-16-le"
	}
	if enc != "" {
		return 0, syntaxErr(0, "input is not UTF-8 (CPython would decode it as %s; only UTF-8 is supported)", enc)
	}
	return 0, nil
}

type decoder struct {
	data  []byte
	pos   int
	depth int
	buf   []byte            // scratch space for strings with escapes
	keys  map[string]string // interned object keys
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (d *decoder) skipWS() {
	for d.pos < len(d.data) && isWS(d.data[d.pos]) {
		d.pos++
	}
}

// errUnexpected reports msg at offset i, unless the byte there starts invalid
// UTF-8, which is reported as such (CPython decodes the whole input before
// parsing, so it would complain about the encoding).
func (d *decoder) errUnexpected(i int, msg string) error {
	if i < len(d.data) && d.data[i] >= 0x80 {
		if _, n := decodeWTF8(d.data, i); n == 0 {
			return syntaxErr(i, "invalid UTF-8")
		}
	}
	if i >= len(d.data) && msg == "expecting value" {
		msg = "unexpected end of input, expecting value"
	}
	return &SyntaxError{Offset: i, Msg: msg}
}

func (d *decoder) hasLiteral(lit string) bool {
	return len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit
}

// value parses one value at d.pos (whitespace already skipped), like
// scan_once in CPython's _json.c.
func (d *decoder) value() (Value, error) {
	if d.pos >= len(d.data) {
		return nil, d.errUnexpected(d.pos, "expecting value")
	}
	switch d.data[d.pos] {
	case '"':
		b, err := d.str()
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case '{':
		return d.object()
	case '[':
		return d.array()
	case 'n':
		if d.hasLiteral("null") {
			d.pos += 4
			return nil, nil
		}
	case 't':
		if d.hasLiteral("true") {
			d.pos += 4
			return true, nil
		}
	case 'f':
		if d.hasLiteral("false") {
			d.pos += 5
			return false, nil
		}
	case 'N':
		if d.hasLiteral("NaN") {
			d.pos += 3
			return Float(math.NaN()), nil
		}
	case 'I':
		if d.hasLiteral("Infinity") {
			d.pos += 8
			return Float(math.Inf(1)), nil
		}
	case '-':
		if d.hasLiteral("-Infinity") {
			d.pos += 9
			return Float(math.Inf(-1)), nil
		}
	}
	return d.number()
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > MaxDepth {
		return syntaxErr(d.pos, "nesting deeper than %d levels", MaxDepth)
	}
	return nil
}

func (d *decoder) object() (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '{'
	d.skipWS()
	obj := Object{}
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return obj, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errUnexpected(d.pos, "expecting property name enclosed in double quotes")
		}
		kb, err := d.str()
		if err != nil {
			return nil, err
		}
		key := d.intern(kb)
		d.skipWS()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errUnexpected(d.pos, "expecting ':' delimiter")
		}
		d.pos++
		d.skipWS()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		obj[key] = v // a repeated key: the last one wins
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			d.depth--
			return obj, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != ',' {
			return nil, d.errUnexpected(d.pos, "expecting ',' delimiter")
		}
		d.pos++
		d.skipWS()
	}
}

func (d *decoder) array() (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // '['
	d.skipWS()
	arr := []Value{}
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return arr, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			d.depth--
			return arr, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != ',' {
			return nil, d.errUnexpected(d.pos, "expecting ',' delimiter")
		}
		d.pos++
		d.skipWS()
	}
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// hex4 decodes the four hex digits at data[i:i+4].
func hex4(data []byte, i int) (rune, bool) {
	if len(data)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}

// intern returns b as a string, sharing one copy between equal short object
// keys (a block repeats the same few keys thousands of times).
func (d *decoder) intern(b []byte) string {
	if len(b) > 32 {
		return string(b)
	}
	if s, ok := d.keys[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.keys) < 512 {
		if d.keys == nil {
			d.keys = make(map[string]string)
		}
		d.keys[s] = s
	}
	return s
}

// str parses the string starting at the '"' at d.pos, like scanstring in
// CPython's _json.c with strict=True. The result is WTF-8; it aliases the
// input or d.buf, so it is only valid until the next call.
func (d *decoder) str() ([]byte, error) {
	data := d.data
	begin := d.pos
	start := begin + 1
	i := start
	// Fast path: no escapes, the result is a copy of the input bytes.
	for i < len(data) {
		c := data[i]
		if c == '"' {
			d.pos = i + 1
			return data[start:i], nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, syntaxErr(i, "invalid control character in string")
		}
		if c < 0x80 {
			i++
			continue
		}
		_, n := decodeWTF8(data, i)
		if n == 0 {
			return nil, syntaxErr(i, "invalid UTF-8")
		}
		i += n
	}
	buf := append(d.buf[:0], data[start:i]...)
	for {
		if i >= len(data) {
			return nil, syntaxErr(begin, "unterminated string starting")
		}
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = buf
			return buf, nil
		case c == '\\':
			if i+1 >= len(data) {
				return nil, syntaxErr(begin, "unterminated string starting")
			}
			e := data[i+1]
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				cp, ok := hex4(data, i+2)
				if !ok {
					return nil, syntaxErr(i, "invalid \\uXXXX escape")
				}
				i += 6
				// A high surrogate escape directly followed by a low
				// surrogate escape is one astral code point. Nothing else
				// combines: not a reversed pair, not a raw surrogate next to
				// an escaped one.
				if cp >= 0xD800 && cp <= 0xDBFF && len(data)-i >= 2 && data[i] == '\\' && data[i+1] == 'u' {
					lo, ok := hex4(data, i+2)
					if !ok {
						return nil, syntaxErr(i, "invalid \\uXXXX escape")
					}
					if lo >= 0xDC00 && lo <= 0xDFFF {
						cp = 0x10000 + (cp-0xD800)<<10 + (lo - 0xDC00)
						i += 6
					}
				}
				buf = appendWTF8(buf, cp)
				continue
			default:
				return nil, syntaxErr(i, "invalid escape \\%s in string", printable(data, i+1))
			}
			i += 2
		case c < 0x20:
			return nil, syntaxErr(i, "invalid control character in string")
		case c < 0x80:
			buf = append(buf, c)
			i++
		default:
			_, n := decodeWTF8(data, i)
			if n == 0 {
				return nil, syntaxErr(i, "invalid UTF-8")
			}
			buf = append(buf, data[i:i+n]...)
			i += n
		}
	}
}

// printable renders the character at data[i] for an error message.
func printable(data []byte, i int) string {
	c := data[i]
	if c > 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return strconv.QuoteToASCII(string(data[i : i+1]))
}

// number parses a number at d.pos following _match_number_unicode in CPython's
// _json.c, which implements the regex
// (-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?
// A fraction or exponent that is not complete is simply not part of the
// number (so "1." scans as 1 followed by a stray '.').
func (d *decoder) number() (Value, error) {
	data := d.data
	start := d.pos
	i := start
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) || !isDigit(data[i]) {
		return nil, d.errUnexpected(start, "expecting value")
	}
	if data[i] == '0' {
		i++
	} else {
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	intEnd := i
	fracEnd := -1
	if i+1 < len(data) && data[i] == '.' && isDigit(data[i+1]) {
		i += 2
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		fracEnd = i
	}
	expStart := -1
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		j := i + 1
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			j++
		}
		if j < len(data) && isDigit(data[j]) {
			for j < len(data) && isDigit(data[j]) {
				j++
			}
			expStart = i + 1
			i = j
		}
	}
	d.pos = i
	if fracEnd < 0 && expStart < 0 {
		neg := data[start] == '-'
		digits := data[start:intEnd]
		if neg {
			digits = digits[1:]
		}
		if len(digits) > MaxIntDigits {
			return nil, syntaxErr(start, "integer has %d digits, over CPython's %d-digit limit", len(digits), MaxIntDigits)
		}
		if neg && len(digits) == 1 && digits[0] == '0' {
			return Int("0"), nil
		}
		return Int(data[start:intEnd]), nil
	}
	return Float(parseFloat(data[start:i], intEnd-start, fracEnd-start, expStart-start)), nil
}

// parseFloat converts a number that matched the JSON number regex and has a
// fraction or an exponent, correctly rounded as CPython's float() does:
// overflow gives ±Inf and underflow ±0. t is the whole text; intEnd is where
// the integer part ends, fracEnd where the fraction ends (negative if none)
// and expStart where the exponent's sign or digits start (negative if none).
func parseFloat(t []byte, intEnd, fracEnd, expStart int) float64 {
	// strconv.ParseFloat is correctly rounded, but it stops accumulating an
	// exponent beyond 10000, which is wrong for texts like "0.000…0001e20000"
	// with thousands of digits. Short texts with short exponents go straight
	// through; the rest is first normalized to 0.DDDe±P with P small.
	if len(t) <= 40 && (expStart < 0 || len(t)-expStart <= 5) {
		f, _ := strconv.ParseFloat(string(t), 64) // ErrRange comes with ±Inf or ±0
		return f
	}
	neg := t[0] == '-'
	intDigits := t[:intEnd]
	if neg {
		intDigits = intDigits[1:]
	}
	var fracDigits []byte
	if fracEnd >= 0 {
		fracDigits = t[intEnd+1 : fracEnd]
	}
	// Value = 0.(intDigits fracDigits) × 10^(len(intDigits)+exp).
	buf := make([]byte, 0, 64)
	if neg {
		buf = append(buf, '-')
	}
	buf = append(buf, '0', '.')
	mant := len(buf)
	p := int64(len(intDigits))
	for _, part := range [][]byte{intDigits, fracDigits} {
		for _, c := range part {
			if c == '0' && len(buf) == mant {
				p-- // leading zero
				continue
			}
			buf = append(buf, c)
		}
	}
	for len(buf) > mant && buf[len(buf)-1] == '0' {
		buf = buf[:len(buf)-1]
	}
	if len(buf) == mant { // all digits are zero
		if neg {
			return math.Copysign(0, -1)
		}
		return 0
	}
	if expStart >= 0 {
		e := t[expStart:]
		eneg := false
		if e[0] == '+' || e[0] == '-' {
			eneg = e[0] == '-'
			e = e[1:]
		}
		// Saturate far beyond any length of digits held in memory, so the
		// sign of p stays right.
		const sat = int64(1) << 50
		var x int64
		for _, c := range e {
			if x < sat {
				x = x*10 + int64(c-'0')
			}
		}
		if eneg {
			x = -x
		}
		p += x
	}
	// 0.1×10^p <= |value| < 10^p.
	if p > 310 {
		if neg {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	if p < -330 {
		if neg {
			return math.Copysign(0, -1)
		}
		return 0
	}
	// More than 800 significant digits never matter for rounding to float64
	// (a halfway point has at most 767), as long as a nonzero tail is kept
	// visible: the dropped digits end in a nonzero one, so a sticky '1'
	// stands for them.
	const keep = 800
	if len(buf)-mant > keep {
		buf = append(buf[:mant+keep], '1')
	}
	buf = append(buf, 'e')
	buf = strconv.AppendInt(buf, p, 10)
	f, _ := strconv.ParseFloat(string(buf), 64)
	return f
}
