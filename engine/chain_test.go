package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/internal/testvectors"
)

func TestGenesisIsTheReferenceNodes(t *testing.T) {
	// Every reference chain dump starts with the reference genesis block.
	r := testvectors.Rows(t, "chains.jsonl")[0]
	d, err := DecodeDump([]byte(testvectors.String(t, r["dump"])))
	if err != nil {
		t.Fatal(err)
	}
	g := Genesis()
	if d.Blocks[0].Hash != g.Hash || g.ComputeHash() != g.Hash {
		t.Fatalf("genesis hash %s, reference %s", g.Hash, d.Blocks[0].Hash)
	}
	if err := ValidateChain([]*Block{g}, mustDifficulty(t, 2)); err != nil {
		t.Fatal(err)
	}
}

func mustDifficulty(t *testing.T, d int) hasher.Target {
	t.Helper()
	tg, err := Difficulty(d)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func ruleOf(err error) Rule {
	var re *RuleError
	if errors.As(err, &re) {
		return re.Rule
	}
	return ""
}

func TestChainRules(t *testing.T) {
	target, _ := Difficulty(2)
	c := NewChain(target)
	c.AddTransaction(pyjson.Object{"author": "alice", "content": "hello", "timestamp": pyjson.Float(1576665446.403836)})
	b, err := c.MineSequential(pyjson.Float(1576665447.5))
	if err != nil || b == nil {
		t.Fatalf("mine: %v %v", b, err)
	}
	if c.Len() != 2 || len(c.Pending()) != 0 || c.Last() != b {
		t.Fatalf("after mining: len %d pending %d", c.Len(), len(c.Pending()))
	}
	if none, err := c.MineSequential(pyjson.Float(1)); none != nil || err != nil {
		t.Fatal("mined with nothing pending")
	}

	// Build the next block with the parallel miner, then break it in each
	// way a peer could.
	next := c.NextBlock(pyjson.Int("1576665450"))
	next.Transactions = []pyjson.Value{"tx"}
	good, _, err := MineBlock(context.Background(), NewMiner(nil, 2), next, target)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rule   Rule
		mutate func(b *Block)
	}{
		{RuleIndex, func(b *Block) { b.Index++ }},
		{RulePreviousHash, func(b *Block) { b.PreviousHash = strings.Repeat("0", 64) }},
		{RuleHash, func(b *Block) { b.Transactions = []pyjson.Value{"forged"} }},
		{RuleHash, func(b *Block) { b.Hash = "" }},
		{RuleDifficulty, func(b *Block) {
			// Find a nonce whose hash misses the difficulty and carry it honestly.
			for b.Nonce = 0; ; b.Nonce++ {
				if b.Hash = b.ComputeHash(); !strings.HasPrefix(b.Hash, "00") {
					return
				}
			}
		}},
	}
	for _, tc := range cases {
		bad := *good
		tc.mutate(&bad)
		err := c.AddBlock(&bad)
		if ruleOf(err) != tc.rule {
			t.Fatalf("want rule %s, got %v", tc.rule, err)
		}
		var re *RuleError
		errors.As(err, &re)
		if re.Position != 2 || !strings.Contains(err.Error(), string(tc.rule)) {
			t.Fatalf("error does not name the block and the rule: %v", err)
		}
		if c.Len() != 2 {
			t.Fatal("a refused block changed the chain")
		}
	}
	if err := c.AddBlock(good); err != nil {
		t.Fatal(err)
	}
	if err := ValidateChain(c.Blocks(), target); err != nil {
		t.Fatal(err)
	}
	// A changed genesis is refused at position 0.
	blocks := c.Blocks()
	g := *blocks[0]
	g.Timestamp = pyjson.Float(0)
	g.Hash = g.ComputeHash()
	blocks[0] = &g
	if err := ValidateChain(blocks, target); ruleOf(err) != RuleGenesis {
		t.Fatalf("float-timestamp genesis: %v", err)
	}
	if err := ValidateChain(nil, target); !errors.Is(err, ErrEmptyChain) {
		t.Fatalf("empty chain: %v", err)
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		`[]`: `"block"`,
		`{"transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0}`:                                `"index"`,
		`{"index": 1.0, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0}`:                  `"index"`,
		`{"index": 1, "transactions": {}, "timestamp": 0, "previous_hash": "0", "nonce": 0}`:                    `"transactions"`,
		`{"index": 1, "transactions": [], "timestamp": "0", "previous_hash": "0", "nonce": 0}`:                  `"timestamp"`,
		`{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": 0, "nonce": 0}`:                      `"previous_hash"`,
		`{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": -1}`:                   `"nonce"`,
		`{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": "0"}`:                                `"nonce"`,
		`{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0, "hash": 5}`:         `"hash"`,
		`{"index": 99999999999999999999, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0}`: `"index"`,
	}
	for in, field := range cases {
		_, err := DecodeBlock([]byte(in), BlockOptions{})
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v, want an error naming %s", in, err, field)
		}
	}
	if _, err := DecodeBlock([]byte(`{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": "0"}`), BlockOptions{NoNonce: true}); err != nil {
		t.Errorf("template without nonce: %v", err)
	}
	if _, err := DecodeDump([]byte(`{"length": 3, "chain": []}`)); err == nil || !strings.Contains(err.Error(), "length") {
		t.Errorf("length mismatch: %v", err)
	}
}

// A target of 0 bits asks for no proof of work: validation and mining
// refuse it, the zero Target included.
func TestZeroTargetRefused(t *testing.T) {
	g := Genesis()
	next := &Block{Index: 1, Transactions: []pyjson.Value{}, PreviousHash: g.Hash}
	next.Hash = next.ComputeHash()
	zero, _ := hasher.TargetBits(0)
	for _, tg := range []hasher.Target{{}, zero} {
		if err := ValidateChain([]*Block{g, next}, tg); !errors.Is(err, ErrZeroTarget) {
			t.Errorf("ValidateChain at 0 bits: %v", err)
		}
		if err := ValidateNext(g, 1, next, tg); !errors.Is(err, ErrZeroTarget) {
			t.Errorf("ValidateNext at 0 bits: %v", err)
		}
		if _, _, err := MineBlock(context.Background(), NewMiner(nil, 1), next, tg); !errors.Is(err, ErrZeroTarget) {
			t.Errorf("MineBlock at 0 bits: %v", err)
		}
	}
}
