package pyjson

import (
	"bytes"
	"testing"
)

// seedCorpus adds every vector input and every quirk to the fuzz corpus.
func seedCorpus(f *testing.F) {
	for _, r := range loadVectors(f) {
		f.Add(r.raw)
	}
	for _, q := range quirks {
		if len(q.in) < 4096 {
			f.Add([]byte(q.in))
		}
	}
}

// checkRoundTrip asserts the properties every decodable input must have.
func checkRoundTrip(t *testing.T, data []byte) {
	v, err := Decode(data)
	if err != nil {
		if _, ok := err.(*SyntaxError); !ok {
			t.Fatalf("Decode error %v is %T, want *SyntaxError", err, err)
		}
		if _, err2 := Canonical(data); err2 == nil {
			t.Fatalf("Decode fails but Canonical succeeds")
		}
		return
	}
	checkCanonicalTypes(t, v, 0)
	enc, err := Encode(v)
	if err != nil {
		t.Fatalf("Encode of a decoded value failed: %v", err)
	}
	for _, c := range enc {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("output not printable ASCII: %q", enc)
		}
	}
	can, err := Canonical(data)
	if err != nil || !bytes.Equal(can, enc) {
		t.Fatalf("Canonical differs from Encode(Decode()) (%v)", err)
	}
	v2, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(Encode(v)) failed: %v\n%s", err, enc)
	}
	enc2, err := Encode(v2)
	if err != nil {
		t.Fatalf("re-encoding failed: %v", err)
	}
	if hasSplitPairKey(v) {
		return
	}
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding differs:\n %s\n %s", enc, enc2)
	}
	can2, err := Canonical(can)
	if err != nil || !bytes.Equal(can, can2) {
		t.Fatalf("Canonical not idempotent (%v):\n %s\n %s", err, can, can2)
	}
	// Appending must not disturb what is already in dst.
	pre := []byte("prefix")
	app, err := AppendEncode(pre, v)
	if err != nil || string(app[:6]) != "prefix" || !bytes.Equal(app[6:], enc) {
		t.Fatalf("AppendEncode differs (%v)", err)
	}
}

// checkCanonicalTypes fails if v holds anything but the canonical types.
func checkCanonicalTypes(t *testing.T, v Value, depth int) {
	switch x := v.(type) {
	case nil, bool, Float:
	case Int:
		if !validInt(string(x)) {
			t.Fatalf("non-canonical Int %q", x)
		}
	case string:
		if !validWTF8(x) {
			t.Fatalf("string not WTF-8: %q", x)
		}
	case []Value:
		for _, e := range x {
			checkCanonicalTypes(t, e, depth+1)
		}
	case Object:
		for k, e := range x {
			if !validWTF8(k) {
				t.Fatalf("key not WTF-8: %q", k)
			}
			checkCanonicalTypes(t, e, depth+1)
		}
	default:
		t.Fatalf("Decode produced a %T", v)
	}
}

func FuzzDecode(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRoundTrip(t, data)
	})
}

func FuzzCanonical(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		can, err := Canonical(data)
		if err != nil {
			if _, derr := Decode(data); derr == nil {
				t.Fatalf("Canonical fails (%v) but Decode succeeds", err)
			}
			return
		}
		v, _ := Decode(data)
		can2, err := Canonical(can)
		if err != nil {
			t.Fatalf("Canonical(Canonical(x)) failed: %v", err)
		}
		if !hasSplitPairKey(v) && !bytes.Equal(can, can2) {
			t.Fatalf("Canonical(Canonical(x)) != Canonical(x):\n %s\n %s", can, can2)
		}
		checkRoundTrip(t, can)
	})
}

// hasSplitPairKey reports whether some object key in v holds a high
// surrogate followed by a low surrogate as two code points (only possible from
// raw surrogate bytes in the input). Such a key is written exactly like the
// astral character the pair stands for, but sorts by its first surrogate, and
// reading the output back yields the astral character: as in CPython, the
// output may then repeat a key or list keys out of order, and is not a fixed
// point of Canonical.
func hasSplitPairKey(v Value) bool {
	switch x := v.(type) {
	case []Value:
		for _, e := range x {
			if hasSplitPairKey(e) {
				return true
			}
		}
	case Object:
		for k, e := range x {
			if hasSplitPair(k) || hasSplitPairKey(e) {
				return true
			}
		}
	}
	return false
}

func hasSplitPair(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i] == 0xED && s[i+1] >= 0xA0 && s[i+1] <= 0xAF && s[i+3] == 0xED && s[i+4] >= 0xB0 && s[i+4] <= 0xBF {
			return true
		}
	}
	return false
}
