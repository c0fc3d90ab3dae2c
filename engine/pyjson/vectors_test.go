package pyjson

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/powchain/powchain/internal/testvectors"
)

// vectorRow is one line of testdata/vectors/canonical_json.jsonl.
type vectorRow struct {
	Name      string `json:"name"`
	Edge      bool   `json:"edge"`
	Input     string `json:"input"`
	InputB64  string `json:"input_b64"`
	Canonical string `json:"canonical"`
	SHA256    string `json:"sha256"`

	raw []byte // input_b64 decoded: the exact input bytes
}

func loadVectors(tb testing.TB) []vectorRow {
	tb.Helper()
	path := testvectors.Path(tb, "canonical_json.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("conformance vectors missing: %v", err)
	}
	var rows []vectorRow
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r vectorRow
		if err := json.Unmarshal(line, &r); err != nil {
			tb.Fatalf("%s line %d: %v", path, i+1, err)
		}
		if r.raw, err = base64.StdEncoding.DecodeString(r.InputB64); err != nil {
			tb.Fatalf("%s line %d: bad input_b64: %v", path, i+1, err)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		tb.Fatalf("%s holds no vectors", path)
	}
	return rows
}

func TestVectors(t *testing.T) {
	rows := loadVectors(t)
	edges := 0
	for _, r := range rows {
		t.Run(r.Name, func(t *testing.T) {
			if r.Edge {
				edges++
			}
			sum := sha256.Sum256([]byte(r.Canonical))
			if hex.EncodeToString(sum[:]) != r.SHA256 {
				t.Fatalf("vector file inconsistent: sha256(canonical) != sha256 field")
			}
			inputs := [][]byte{r.raw}
			// "input" went through encoding/json, which cannot carry lone
			// surrogates; use it only when it is the same text.
			if r.Input != string(r.raw) {
				t.Logf("input field differs from input_b64; using input_b64 only")
			} else {
				inputs = append(inputs, []byte(r.Input))
			}
			for _, in := range inputs {
				got, err := Canonical(in)
				if err != nil {
					t.Fatalf("Canonical(%q) failed: %v", in, err)
				}
				if string(got) != r.Canonical {
					t.Fatalf("Canonical(%q)\n got  %s\n want %s", in, got, r.Canonical)
				}
				sum := sha256.Sum256(got)
				if hex.EncodeToString(sum[:]) != r.SHA256 {
					t.Fatalf("sha256 mismatch for %q", in)
				}
				// Canonical text is a fixed point.
				again, err := Canonical(got)
				if err != nil || !bytes.Equal(again, got) {
					t.Fatalf("Canonical not idempotent on %s: %s, %v", got, again, err)
				}
			}
		})
	}
	t.Logf("%d vectors, %d edge", len(rows), edges)
}
