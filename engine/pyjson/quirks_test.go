package pyjson

import (
	"errors"
	"strings"
	"testing"
)

// quirk is one input with what CPython 3.11 does with it: either the text of
// json.dumps(json.loads(in), sort_keys=True) or an error. Every entry was
// checked against python3 while writing, and TestPythonDifferential checks
// them again whenever python3 is available (except goOnly ones, where this
// package refuses on purpose what CPython accepts or fails on differently).
type quirk struct {
	name   string
	in     string
	want   string // canonical output, if no error
	err    string // substring of the error, if an error is expected
	goOnly bool
}

var quirks = []quirk{
	// Numbers.
	{name: "minus zero int", in: "-0", want: "0"},
	{name: "minus zero float", in: "-0.0", want: "-0.0"},
	{name: "leading zero", in: "01", err: "extra data at offset 1"},
	{name: "double zero", in: "00", err: "extra data"},
	{name: "minus leading zero", in: "-01", err: "extra data at offset 2"},
	{name: "trailing dot", in: "1.", err: "extra data at offset 1"},
	{name: "trailing dot in array", in: "[1.]", err: "expecting ',' delimiter at offset 2"},
	{name: "leading dot", in: ".5", err: "expecting value at offset 0"},
	{name: "plus sign", in: "+1", err: "expecting value"},
	{name: "lone minus", in: "-", err: "expecting value"},
	{name: "minus space Infinity", in: "- Infinity", err: "expecting value"},
	{name: "minus NaN", in: "-NaN", err: "expecting value"},
	{name: "lower infinity", in: "infinity", err: "expecting value"},
	{name: "lower nan", in: "nan", err: "expecting value"},
	{name: "NaN", in: "NaN", want: "NaN"},
	{name: "minus Infinity", in: "-Infinity", want: "-Infinity"},
	{name: "constants", in: "[Infinity,-Infinity,NaN]", want: "[Infinity, -Infinity, NaN]"},
	{name: "Infinity prefix", in: "Infinityy", err: "extra data"},
	{name: "bare e", in: "1e", err: "extra data at offset 1"},
	{name: "e sign only", in: "1e+", err: "extra data at offset 1"},
	{name: "frac then bare e", in: "1.5e", err: "extra data at offset 3"},
	{name: "upper E", in: "1E5", want: "100000.0"},
	{name: "zero exp", in: "0e0", want: "0.0"},
	{name: "exp leading zeros", in: "1e0400", want: "Infinity"},
	{name: "negative underflow", in: "-1e-400", want: "-0.0"},
	{name: "negative zero exp", in: "-0e-5", want: "-0.0"},
	{name: "underscore", in: "1_000", err: "extra data"},
	{name: "hex", in: "0x10", err: "extra data"},
	{name: "max float rounds down", in: "1.7976931348623158e308", want: "1.7976931348623157e+308"},
	{name: "max float overflows", in: "1.7976931348623159e308", want: "Infinity"},
	{name: "below half min subnormal", in: "2.4703282292062327e-324", want: "0.0"},
	{name: "above half min subnormal", in: "2.4703282292062328e-324", want: "5e-324"},
	{name: "huge exponent", in: "1e99999999999999999999", want: "Infinity"},
	{name: "huge negative exponent", in: "1e-99999999999999999999999", want: "0.0"},
	{name: "zero huge exponent", in: "0e99999999999999999999", want: "0.0"},
	{name: "tie below 2^53", in: "9007199254740993.0", want: "9007199254740992.0"},
	{name: "tie with long zero tail", in: "9007199254740993." + strings.Repeat("0", 1000), want: "9007199254740992.0"},
	{name: "tie broken far away", in: "9007199254740993." + strings.Repeat("0", 1000) + "1", want: "9007199254740994.0"},
	{name: "many leading zeros big exponent", in: "0." + strings.Repeat("0", 20000) + "1e20010", want: "1000000000.0"},
	{name: "many digits big negative exponent", in: strings.Repeat("1", 20000) + "e-20000", want: "0.1111111111111111"},
	{name: "long fraction", in: "0." + strings.Repeat("1", 5000), want: "0.1111111111111111"},
	{name: "long integral float", in: "1" + strings.Repeat("0", 400) + ".0", want: "Infinity"},
	{name: "int 4300 digits", in: strings.Repeat("7", 4300), want: strings.Repeat("7", 4300)},
	{name: "negative int 4300 digits", in: "-" + strings.Repeat("7", 4300), want: "-" + strings.Repeat("7", 4300)},
	{name: "int 4301 digits", in: strings.Repeat("7", 4301), err: "pyjson: integer has 4301 digits, over CPython's 4300-digit limit at offset 0"},
	{name: "negative int 4301 digits", in: "[-" + strings.Repeat("7", 4301) + "]", err: "integer has 4301 digits, over CPython's 4300-digit limit at offset 1"},
	{name: "float 4301 digits", in: strings.Repeat("7", 4301) + ".5", want: "Infinity"},

	// Structure and whitespace.
	{name: "empty input", in: "", err: "end of input"},
	{name: "only space", in: " ", err: "expecting value"},
	{name: "two values", in: "1 2", err: "extra data at offset 2"},
	{name: "trailing whitespace", in: " 1 \n\t\r", want: "1"},
	{name: "form feed", in: "\f1", err: "expecting value"},
	{name: "vertical tab", in: "[1,\v2]", err: "expecting value"},
	{name: "nbsp", in: "\u00a01", err: "expecting value"},
	{name: "trailing comma array", in: "[1,]", err: "expecting value at offset 3"},
	{name: "trailing comma object", in: `{"a":1,}`, err: "expecting property name enclosed in double quotes at offset 7"},
	{name: "leading comma", in: "[,1]", err: "expecting value"},
	{name: "missing colon", in: `{"a" 1}`, err: "expecting ':' delimiter at offset 5"},
	{name: "number key", in: `{1:1}`, err: "expecting property name"},
	{name: "single quoted key", in: `{'a':1}`, err: "expecting property name"},
	{name: "missing comma", in: "[1 2]", err: "expecting ',' delimiter at offset 3"},
	{name: "truncated true", in: "tru", err: "expecting value"},
	{name: "true then digit", in: "true1", err: "extra data at offset 4"},
	{name: "nulls", in: "nulls", err: "extra data"},
	{name: "single quotes", in: "'a'", err: "expecting value"},
	{name: "open array", in: "[", err: "expecting value"},
	{name: "open object", in: "{", err: "expecting property name"},
	{name: "key only", in: `{"a"`, err: "expecting ':' delimiter"},
	{name: "unclosed array", in: "[1", err: "expecting ',' delimiter"},
	{name: "empty containers", in: " [ { } , [ ] ] ", want: "[{}, []]"},
	{name: "duplicate nested", in: `{"a": {"x": 1}, "a": [2], "b": 0}`, want: `{"a": [2], "b": 0}`},
	{name: "comment", in: "1 // c", err: "extra data"},

	// Strings.
	{name: "raw DEL", in: "\"\x7f\"", want: `"\u007f"`},
	{name: "raw NUL", in: "\"\x00\"", err: "invalid control character in string at offset 1"},
	{name: "raw 0x1f", in: "\"a\x1f\"", err: "invalid control character in string at offset 2"},
	{name: "raw newline", in: "\"a\nb\"", err: "invalid control character"},
	{name: "escape a", in: `"\a"`, err: `invalid escape \a in string at offset 1`},
	{name: "escape U", in: `"\U0041"`, err: "invalid escape"},
	{name: "escape x", in: `"\x41"`, err: "invalid escape"},
	{name: "escape quote", in: `"\'"`, err: "invalid escape"},
	{name: "short u escape", in: `"\u12"`, err: `invalid \uXXXX escape`},
	{name: "bad hex", in: `"\u12G4"`, err: `invalid \uXXXX escape`},
	{name: "bad low escape", in: `"\ud83d\uZZZZ"`, err: `invalid \uXXXX escape`},
	{name: "short low escape", in: `"\ud83d\ude0"`, err: `invalid \uXXXX escape`},
	{name: "unterminated", in: `"abc`, err: "unterminated string starting at offset 0"},
	{name: "unterminated escape", in: `["abc\`, err: "unterminated string starting at offset 1"},
	{name: "all escapes", in: `"\"\\\/\b\f\n\r\t\u0000\u001F\u007f"`, want: `"\"\\/\b\f\n\r\t\u0000\u001f\u007f"`},
	{name: "not escaped", in: `"/<>&'"`, want: `"/<>&'"`},
	{name: "upper hex pair", in: `"\uD83D\uDE00"`, want: `"\ud83d\ude00"`},
	{name: "escaped pair", in: `"\ud83d\ude00"`, want: `"\ud83d\ude00"`},
	{name: "reversed pair", in: `"\ude00\ud83d"`, want: `"\ude00\ud83d"`},
	{name: "high then pair", in: `"\ud83d\ud83d\ude00"`, want: `"\ud83d\ud83d\ude00"`},
	{name: "high then plain escape", in: `"\ud83dA\u0041"`, want: `"\ud83dAA"`},
	{name: "high then escaped A", in: `"\ud83d\u0041"`, want: `"\ud83dA"`},
	{name: "high then newline escape", in: `"\ud83d\n"`, want: `"\ud83d\n"`},
	{name: "raw surrogate", in: "\"\xed\xa0\x80\"", want: `"\ud800"`},
	{name: "raw pair (CESU-8)", in: "\"\xed\xa0\xbd\xed\xb8\x80\"", want: `"\ud83d\ude00"`},
	{name: "raw high escaped low", in: "\"\xed\xa0\xbd\\ude00\"", want: `"\ud83d\ude00"`},
	{name: "escaped high raw low", in: "\"\\ud83d\xed\xb8\x80\"", want: `"\ud83d\ude00"`},
	{name: "astral max", in: "\"\U0010ffff\"", want: `"\udbff\udfff"`},
	{name: "truncated utf8", in: "\"\xed\xa0\"", err: "invalid UTF-8 at offset 1"},
	{name: "overlong NUL", in: "\"\xc0\x80\"", err: "invalid UTF-8"},
	{name: "overlong 3 bytes", in: "\"\xe0\x80\xaf\"", err: "invalid UTF-8"},
	{name: "overlong 4 bytes", in: "\"\xf0\x8f\xbf\xbf\"", err: "invalid UTF-8"},
	{name: "above max", in: "\"\xf4\x90\x80\x80\"", err: "invalid UTF-8"},
	{name: "byte ff", in: "\"\xff\"", err: "invalid UTF-8"},
	{name: "stray continuation", in: "\"a\x80\"", err: "invalid UTF-8"},
	{name: "invalid utf8 outside string", in: "[1]\xff", err: "invalid UTF-8 at offset 3"},
	{name: "invalid utf8 after escape", in: "\"\\n\xff\"", err: "invalid UTF-8 at offset 3"},
	{name: "control char after escape", in: "\"\\n\x01\"", err: "invalid control character in string at offset 3"},

	// Keys: code point order, surrogates distinct from astral characters.
	{name: "key order", in: `{"b":1,"a":2,"B":3,"":4,"\u00e9":5,"\uffff":6,"\ud83d\ude00":7,"\ud800":8}`,
		want: `{"": 4, "B": 3, "a": 2, "b": 1, "\u00e9": 5, "\ud800": 8, "\uffff": 6, "\ud83d\ude00": 7}`},
	{name: "CESU key beside astral key", in: "{\"\xf0\x9f\x98\x80\": 1, \"\xed\xa0\xbd\xed\xb8\x80\": 2}",
		want: `{"\ud83d\ude00": 2, "\ud83d\ude00": 1}`},
	{name: "CESU key sorts by its high surrogate", in: "{\"\xf0\x9f\x98\x80\":0,\"\xed\xa0\xbd\xed\xba\x80\":0}",
		want: `{"\ud83d\ude80": 0, "\ud83d\ude00": 0}`},
	{name: "escaped vs raw astral key", in: "{\"\\ud83d\\ude00\": 1, \"\xf0\x9f\x98\x80\": 2}", want: `{"\ud83d\ude00": 2}`},

	// Encodings.
	{name: "utf-8 BOM", in: "\xef\xbb\xbf{}", want: "{}"},
	{name: "utf-8 BOM then space", in: "\xef\xbb\xbf [1]", want: "[1]"},
	{name: "double BOM", in: "\xef\xbb\xbf\xef\xbb\xbf{}", err: "expecting value at offset 3"},
	{name: "BOM after value", in: "1\xef\xbb\xbf", err: "extra data at offset 1"},
	{name: "utf-16-le guess", in: "1\x00", err: "CPython would decode it as utf-16-le", goOnly: true},
	{name: "utf-16-be guess", in: "\x001", err: "utf-16-be", goOnly: true},
	{name: "utf-32-le guess", in: "1\x00\x00\x00", err: "utf-32-le", goOnly: true},
	{name: "utf-16 BOM", in: "\xff\xfe1\x00", err: "utf-16", goOnly: true},
	{name: "utf-32 BOM", in: "\x00\x00\xfe\xff\x00\x00\x001", err: "utf-32", goOnly: true},
	{name: "three bytes with NUL are UTF-8", in: "1\x00\x00", err: "extra data at offset 1"},
	{name: "one NUL", in: "\x00", err: "expecting value"},

	// Depth.
	{name: "depth 900", in: strings.Repeat("[", 900) + strings.Repeat("]", 900), want: strings.Repeat("[", 900) + strings.Repeat("]", 900)},
	{name: "depth MaxDepth", in: strings.Repeat(`{"a":[`, MaxDepth/2) + strings.Repeat("]}", MaxDepth/2), want: strings.Repeat(`{"a": [`, MaxDepth/2) + strings.Repeat("]}", MaxDepth/2), goOnly: true},
	{name: "depth MaxDepth+1", in: strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), err: "nesting deeper than 1000 levels at offset 1000", goOnly: true},
	{name: "depth huge unbalanced", in: strings.Repeat(`{"":`, 1_000_000), err: "nesting deeper than", goOnly: true},
}

func TestQuirks(t *testing.T) {
	for _, q := range quirks {
		t.Run(q.name, func(t *testing.T) {
			got, err := Canonical([]byte(q.in))
			if q.err != "" {
				if err == nil {
					t.Fatalf("Canonical(%.80q) = %.80s, want error containing %q", q.in, got, q.err)
				}
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("error %v is %T, want *SyntaxError", err, err)
				}
				if !strings.HasPrefix(err.Error(), "pyjson: ") || !strings.Contains(err.Error(), q.err) {
					t.Fatalf("Canonical(%.80q) error %q, want it to contain %q", q.in, err, q.err)
				}
				if se.Offset < 0 || se.Offset > len(q.in) {
					t.Fatalf("offset %d outside input", se.Offset)
				}
				return
			}
			if err != nil {
				t.Fatalf("Canonical(%.80q): %v", q.in, err)
			}
			if string(got) != q.want {
				t.Fatalf("Canonical(%.80q)\n got  %.200s\n want %.200s", q.in, got, q.want)
			}
		})
	}
}
