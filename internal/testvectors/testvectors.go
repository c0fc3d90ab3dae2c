// Package testvectors finds and reads the conformance vectors for tests.
// They live in the repository, in testdata/vectors at its root: a byte for
// byte copy of the project's shared vectors (CPython's output), which
// TestCopyMatchesShared compares with the original when it sits beside the
// repository in ../shared/vectors. The vectors are read at run time; a
// missing file fails the test loudly.
package testvectors

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the vectors directory: $POWCHAIN_VECTORS if set, otherwise
// testdata/vectors in the repository root.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("POWCHAIN_VECTORS"); d != "" {
		return d
	}
	return filepath.Join(Root(tb), "testdata", "vectors")
}

// Root returns the repository root: the first directory upwards from the
// test's working directory that holds go.mod.
func Root(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s: cannot find the repository root", wd)
		}
	}
}

// Path returns the path of one vectors file.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	return filepath.Join(Dir(tb), name)
}

// Lines returns the raw lines of a JSON Lines vectors file, failing the
// test when the file is missing or empty.
func Lines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(Path(tb, name))
	if err != nil {
		tb.Fatalf("conformance vectors: %v (they live in testdata/vectors at the repository root)", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			lines = append(lines, append([]byte(nil), l...))
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(lines) == 0 {
		tb.Fatalf("testvectors: %s has no cases", name)
	}
	return lines
}

// Rows decodes every line of a vectors file into a map of raw fields, so a
// test can hand each field's exact JSON text to the decoder under test.
func Rows(tb testing.TB, name string) []map[string]json.RawMessage {
	tb.Helper()
	var rows []map[string]json.RawMessage
	for i, l := range Lines(tb, name) {
		var r map[string]json.RawMessage
		if err := json.Unmarshal(l, &r); err != nil {
			tb.Fatalf("testvectors: %s line %d: %v", name, i+1, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// String decodes a raw field that holds a JSON string.
func String(tb testing.TB, raw json.RawMessage) string {
	tb.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		tb.Fatalf("testvectors: want a string, got %s: %v", raw, err)
	}
	return s
}

// Int decodes a raw field that holds a JSON integer.
func Int(tb testing.TB, raw json.RawMessage) int64 {
	tb.Helper()
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		tb.Fatalf("testvectors: want an integer, got %s: %v", raw, err)
	}
	return n
}
