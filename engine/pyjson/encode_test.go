package pyjson

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestAppendFloat(t *testing.T) {
	// Expected texts are repr() of the same floats in CPython 3.11.
	cases := []struct {
		f    float64
		want string
	}{
		{1e16, "1e+16"},
		{1e15, "1000000000000000.0"},
		{0.0001, "0.0001"},
		{1e-05, "1e-05"},
		{1.5e16, "1.5e+16"},
		{math.Copysign(0, -1), "-0.0"},
		{0, "0.0"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{123456789012345678.0, "1.2345678901234568e+17"},
		{9999999999999998.0, "9999999999999998.0"},
		{0.1, "0.1"},
		{100.0, "100.0"},
		{1.5, "1.5"},
		{-1.25e-7, "-1.25e-07"},
		{1e22, "1e+22"},
		{1e100, "1e+100"},
		{1e-100, "1e-100"},
		{12345.678, "12345.678"},
		{0.00015000000000000001, "0.00015000000000000001"},
		{2.5e-5, "2.5e-05"},
		{1576665446.403836, "1576665446.403836"},
		{-2, "-2.0"},
		{math.NaN(), "NaN"},
		{-math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, c := range cases {
		if got := string(AppendFloat([]byte("x"), c.f)); got != "x"+c.want {
			t.Errorf("AppendFloat(%v) = %q, want %q", c.f, got[1:], c.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain /<>&'", `"plain /<>&'"`},
		{"\"\\\n\r\t\b\f", `"\"\\\n\r\t\b\f"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f\u007f"`},
		{"\u0080é\u2028\uffff", `"\u0080\u00e9\u2028\uffff"`},
		{"😀\U0010ffff", `"\ud83d\ude00\udbff\udfff"`},
		{"\xed\xa0\x80x\xed\xbf\xbf", `"\ud800x\udfff"`},   // lone surrogates in WTF-8
		{"\xed\xa0\xbd\xed\xb8\x80", `"\ud83d\ude00"`},     // split pair: same text as the astral character
		{"a\xffb\xc0\x80", `"a\ufffdb\ufffd\ufffd"`},       // not WTF-8
		{"\xf0\x9f\x98", `"\ufffd\ufffd\ufffd"`},           // truncated
		{"\xf4\x90\x80\x80", `"\ufffd\ufffd\ufffd\ufffd"`}, // above U+10FFFF
	}
	for _, c := range cases {
		if got := string(AppendString(nil, c.in)); got != c.want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestEncodeConvenienceTypes(t *testing.T) {
	v := map[string]any{
		"int":    int(-5),
		"int64":  int64(math.MinInt64),
		"uint64": uint64(math.MaxUint64),
		"f64":    float64(3),
		"list":   []any{nil, true, false, Int("12345678901234567890123"), Float(0.5), "s"},
		"obj":    Object{"b": map[string]any{}, "a": []Value{}},
	}
	got, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"f64": 3.0, "int": -5, "int64": -9223372036854775808, "list": [null, true, false, 12345678901234567890123, 0.5, "s"], "obj": {"a": [], "b": {}}, "uint64": 18446744073709551615}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	type point struct{ X int }
	deep := []any{}
	for i := 1; i < MaxDepth; i++ {
		deep = []any{deep}
	}
	if _, err := Encode(deep); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	loop := []any{nil}
	loop[0] = loop
	cases := []struct {
		v    Value
		want string
	}{
		{int32(1), "int32"},
		{float32(1), "float32"},
		{uint(1), "uint"},
		{[]string{"a"}, "[]string"},
		{map[string]string{}, "map[string]string"},
		{map[int]any{}, "map[int]interface {}"},
		{point{}, "pyjson.point"},
		{new(int), "*int"},
		{[]any{1, Object{"k": struct{}{}}}, "struct {}"},
		{Int(""), "not a canonical integer"},
		{Int("01"), "not a canonical integer"},
		{Int("-0"), "not a canonical integer"},
		{Int("+1"), "not a canonical integer"},
		{Int("1.0"), "not a canonical integer"},
		{Int(strings.Repeat("9", MaxIntDigits+1)), "4301 digits"},
		{Int("-" + strings.Repeat("9", MaxIntDigits+1)), "4301 digits"},
		{"a\xffb", "not valid WTF-8"},
		{Object{"\xc0\x80": 1}, "not valid WTF-8"},
		{map[string]any{"ok": []any{"\xed\xa0"}}, "not valid WTF-8"},
		{[]any{deep}, "deeper than 1000"},
		{loop, "deeper than 1000"},
	}
	for _, c := range cases {
		dst := []byte("keep")
		out, err := AppendEncode(dst, c.v)
		if err == nil {
			t.Errorf("Encode(%T) = %.60s, want error", c.v, out)
			continue
		}
		if !strings.HasPrefix(err.Error(), "pyjson: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%T) error %q, want it to mention %q", c.v, err, c.want)
		}
		if string(out) != "keep" {
			t.Errorf("AppendEncode on error returned %q, want dst unchanged", out)
		}
	}
	if _, err := Encode(Int(strings.Repeat("9", MaxIntDigits))); err != nil {
		t.Errorf("4300-digit Int: %v", err)
	}
}

func TestIntConversions(t *testing.T) {
	if IntFromInt64(math.MinInt64) != "-9223372036854775808" || IntFromInt64(0) != "0" {
		t.Error("IntFromInt64")
	}
	if IntFromUint64(math.MaxUint64) != "18446744073709551615" {
		t.Error("IntFromUint64")
	}
	i64 := []struct {
		in   Int
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-1", -1, true},
		{"9223372036854775807", math.MaxInt64, true}, {"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"-0", 0, false}, {"01", 0, false}, {"+1", 0, false}, {"", 0, false}, {"1e3", 0, false},
	}
	for _, c := range i64 {
		if n, ok := c.in.Int64(); n != c.want || ok != c.ok {
			t.Errorf("Int(%q).Int64() = %d, %v", c.in, n, ok)
		}
	}
	u64 := []struct {
		in   Int
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"18446744073709551615", math.MaxUint64, true},
		{"18446744073709551616", 0, false}, {"-1", 0, false}, {"007", 0, false},
	}
	for _, c := range u64 {
		if n, ok := c.in.Uint64(); n != c.want || ok != c.ok {
			t.Errorf("Int(%q).Uint64() = %d, %v", c.in, n, ok)
		}
	}
}

func TestDecodeTypes(t *testing.T) {
	v, err := Decode([]byte(`{"i": -0, "big": 123456789012345678901234567890, "f": 1.0, "e": 1e2, "s": "\ud83d\ude00\ud800", "a": [null, true], "o": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	o := v.(Object)
	if o["i"] != Int("0") || o["big"] != Int("123456789012345678901234567890") {
		t.Errorf("ints: %#v %#v", o["i"], o["big"])
	}
	if o["f"] != Float(1) || o["e"] != Float(100) {
		t.Errorf("floats: %#v %#v", o["f"], o["e"])
	}
	if o["s"] != "😀\xed\xa0\x80" {
		t.Errorf("string: %q", o["s"])
	}
	if a, ok := o["a"].([]Value); !ok || len(a) != 2 || a[0] != nil || a[1] != true {
		t.Errorf("array: %#v", o["a"])
	}
	if m, ok := o["o"].(Object); !ok || len(m) != 0 {
		t.Errorf("object: %#v", o["o"])
	}
	// Everything decodable from the vectors and random texts holds only the
	// canonical types.
	g := &textGen{r: rand.New(rand.NewPCG(7, 7))}
	for _, r := range loadVectors(t) {
		v, err := Decode(r.raw)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		checkCanonicalTypes(t, v, 0)
	}
	for i := 0; i < 2000; i++ {
		if v, err := Decode(g.text()); err == nil {
			checkCanonicalTypes(t, v, 0)
		}
	}
}

func TestSyntaxErrorFormat(t *testing.T) {
	_, err := Decode([]byte("{\"key\": \"01234567\x01\"}"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 17 {
		t.Fatalf("got %#v", err)
	}
	if want := "pyjson: invalid control character in string at offset 17"; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
	if _, err := Decode([]byte("[1] 5")); err == nil || err.Error() != "pyjson: extra data at offset 4" {
		t.Fatalf("got %v", err)
	}
}

// TestWTF8OrderIsCodePointOrder checks the claim keys are sorted on: byte
// order of WTF-8 strings equals the order Python's str comparison uses
// (code point by code point), surrogates included.
func TestWTF8OrderIsCodePointOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	pick := func() rune {
		switch r.IntN(6) {
		case 0:
			return rune(r.IntN(0x80))
		case 1:
			return rune(0xD800 + r.IntN(0x800)) // surrogates
		case 2:
			return rune(0xE000 + r.IntN(0x2000)) // just above them
		case 3:
			return rune(0x10000 + r.IntN(0x100000))
		case 4:
			return []rune{0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xFFFF, 0x10000, 0x10FFFF}[r.IntN(8)]
		default:
			return rune(r.IntN(0x110000))
		}
	}
	seq := func() []rune {
		s := make([]rune, r.IntN(4))
		for i := range s {
			s[i] = pick()
		}
		return s
	}
	enc := func(s []rune) string {
		var b []byte
		for _, c := range s {
			b = appendWTF8(b, c)
		}
		return string(b)
	}
	for i := 0; i < 200000; i++ {
		a, b := seq(), seq()
		ea, eb := enc(a), enc(b)
		if !validWTF8(ea) {
			t.Fatalf("encoding of %U not valid", a)
		}
		if got, want := strings.Compare(ea, eb), slices.Compare(a, b); got != want {
			t.Fatalf("%U vs %U: bytes compare %d, code points compare %d", a, b, got, want)
		}
		// And decoding gives the code points back.
		var back []rune
		for j := 0; j < len(ea); {
			if ea[j] < 0x80 {
				back = append(back, rune(ea[j]))
				j++
				continue
			}
			c, n := decodeWTF8(ea, j)
			back = append(back, c)
			j += n
		}
		if !slices.Equal(back, a) && len(a) > 0 {
			t.Fatalf("round trip %U -> %U", a, back)
		}
	}
}

// blockValue builds a block like the chain's, with n transactions.
func blockValue(n int) Object {
	txs := make([]Value, n)
	for i := range txs {
		txs[i] = Object{
			"author":    fmt.Sprintf("user-%d", i),
			"content":   fmt.Sprintf("payment %d → café ☕", i),
			"timestamp": Float(1576665446.403836 + float64(i)),
			"amount":    IntFromInt64(int64(i) * 1000003),
		}
	}
	return Object{
		"index":         IntFromInt64(12),
		"transactions":  txs,
		"timestamp":     Float(1712345678.123456),
		"previous_hash": strings.Repeat("0a", 32),
		"nonce":         IntFromInt64(123456),
	}
}

func TestAppendEncodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	v := blockValue(2000)
	out, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 2*len(out))
	allocs := testing.AllocsPerRun(20, func() {
		b, err := AppendEncode(buf[:0], v)
		if err != nil || !bytes.Equal(b, out) {
			t.Fatal("output changed")
		}
	})
	if allocs > 0 {
		t.Fatalf("AppendEncode of a 2000-transaction block: %.1f allocations per run, want 0", allocs)
	}
}

func BenchmarkAppendEncodeBlock(b *testing.B) {
	v := blockValue(5000)
	out, _ := Encode(v)
	buf := make([]byte, 0, len(out))
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendEncode(buf[:0], v)
	}
}

func BenchmarkCanonicalBlock(b *testing.B) {
	in, _ := Encode(blockValue(5000))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Canonical(in); err != nil {
			b.Fatal(err)
		}
	}
}
