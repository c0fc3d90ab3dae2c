package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/internal/testvectors"
)

// rawValue decodes a raw vectors field with the decoder under test.
func rawValue(t *testing.T, raw json.RawMessage) pyjson.Value {
	t.Helper()
	v, err := pyjson.Decode(raw)
	if err != nil {
		t.Fatalf("decode %.80s: %v", raw, err)
	}
	return v
}

func TestBlockVectors(t *testing.T) {
	for _, r := range testvectors.Rows(t, "blocks.jsonl") {
		name := testvectors.String(t, r["name"])
		t.Run(name, func(t *testing.T) {
			want := testvectors.String(t, r["hash"])
			serialized := testvectors.String(t, r["serialized"])

			b, err := BlockFromValue(rawValue(t, r["block"]), BlockOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := b.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			if string(c) != serialized {
				t.Fatalf("canonical JSON\n got %s\nwant %s", c, serialized)
			}
			if got := b.ComputeHash(); got != want {
				t.Fatalf("hash %s, want %s", got, want)
			}

			wire := testvectors.String(t, r["wire"])
			w, err := DecodeBlock([]byte(wire), BlockOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if w.Hash != want || w.ComputeHash() != want {
				t.Fatalf("wire block carries %s and hashes to %s, want %s", w.Hash, w.ComputeHash(), want)
			}
			out, err := w.MarshalWire()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != wire {
				t.Fatalf("wire form\n got %s\nwant %s", out, wire)
			}
			// The template gives the same message for the block's nonce.
			tpl, err := b.Template()
			if err != nil {
				t.Fatal(err)
			}
			msg := fmt.Sprintf("%s%d%s", tpl.Prefix(), b.Nonce, tpl.Suffix())
			if msg != serialized {
				t.Fatalf("template message\n got %s\nwant %s", msg, serialized)
			}
		})
	}
}

// miningCase is one row of mining.jsonl.
type miningCase struct {
	name       string
	block      *Block
	difficulty int
	nonce      uint64
	hash       string
}

func miningCases(t *testing.T) []miningCase {
	var cases []miningCase
	for _, r := range testvectors.Rows(t, "mining.jsonl") {
		obj := pyjson.Object{}
		for _, k := range []string{"index", "transactions", "timestamp", "previous_hash"} {
			obj[k] = rawValue(t, r[k])
		}
		b, err := BlockFromValue(obj, BlockOptions{NoNonce: true})
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, miningCase{
			name:       testvectors.String(t, r["name"]),
			block:      b,
			difficulty: int(testvectors.Int(t, r["difficulty"])),
			nonce:      uint64(testvectors.Int(t, r["nonce"])),
			hash:       testvectors.String(t, r["hash"]),
		})
	}
	return cases
}

func TestMiningVectorsEveryKernelAndWorkerCount(t *testing.T) {
	cases := miningCases(t)
	for _, h := range hasher.Available() {
		for _, workers := range []int{1, 2, 3, 8} {
			t.Run(fmt.Sprintf("hasher=%s/workers=%d", h.Name(), workers), func(t *testing.T) {
				m := NewMiner(h, workers)
				for _, c := range cases {
					target, err := Difficulty(c.difficulty)
					if err != nil {
						t.Fatal(err)
					}
					mined, res, err := MineBlock(context.Background(), m, c.block, target)
					if err != nil {
						t.Fatalf("%s: %v", c.name, err)
					}
					if mined.Nonce != c.nonce || mined.Hash != c.hash {
						t.Fatalf("%s: mined nonce %d hash %s, want %d %s", c.name, mined.Nonce, mined.Hash, c.nonce, c.hash)
					}
					if res.Hashes < c.nonce+1 {
						t.Fatalf("%s: %d hashes reported, fewer than the %d nonces up to the solution", c.name, res.Hashes, c.nonce+1)
					}
					if got := mined.ComputeHash(); got != c.hash {
						t.Fatalf("%s: mined block hashes to %s, want %s", c.name, got, c.hash)
					}
				}
			})
		}
	}
}

func TestProofOfWorkMatchesVectors(t *testing.T) {
	for _, c := range miningCases(t) {
		// The seed loop re-serializes the whole block per nonce; under the
		// race detector that is slow, so only the rows below 100k nonces
		// run there (the parallel engine runs every row in every mode).
		if (testing.Short() || raceEnabled) && c.nonce > 100000 {
			continue
		}
		target, _ := Difficulty(c.difficulty)
		b := *c.block
		if err := ProofOfWork(&b, target); err != nil {
			t.Fatal(err)
		}
		if b.Nonce != c.nonce || b.Hash != c.hash {
			t.Fatalf("%s: seed loop found nonce %d hash %s, want %d %s", c.name, b.Nonce, b.Hash, c.nonce, c.hash)
		}
	}
}

func TestChainVectors(t *testing.T) {
	for _, r := range testvectors.Rows(t, "chains.jsonl") {
		name := testvectors.String(t, r["name"])
		t.Run(name, func(t *testing.T) {
			var valid bool
			if err := json.Unmarshal(r["valid"], &valid); err != nil {
				t.Fatal(err)
			}
			target, err := Difficulty(int(testvectors.Int(t, r["difficulty"])))
			if err != nil {
				t.Fatal(err)
			}
			d, err := DecodeDump([]byte(testvectors.String(t, r["dump"])))
			if err != nil {
				t.Fatal(err)
			}
			err = ValidateChain(d.Blocks, target)
			if valid {
				if err != nil {
					t.Fatalf("valid chain refused: %v", err)
				}
				return
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("invalid chain: got %v, want a *RuleError", err)
			}
			if bad := testvectors.Int(t, r["bad_index"]); re.Index != bad || int64(re.Position) != bad {
				t.Fatalf("refused at block %d (position %d), want %d: %v", re.Index, re.Position, bad, err)
			}
		})
	}
}
