package engine

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// Rule names one validation rule a block can break.
type Rule string

// The validation rules, in the order they are checked.
const (
	RuleGenesis      Rule = "genesis"       // block 0 is not the reference genesis block
	RuleIndex        Rule = "index"         // index is not the previous block's index plus one
	RulePreviousHash Rule = "previous_hash" // previous_hash is not the previous block's hash
	RuleHash         Rule = "hash"          // the carried hash is missing or not the block's hash
	RuleDifficulty   Rule = "difficulty"    // the hash does not meet the difficulty
)

// RuleError is returned when a block breaks a validation rule.
type RuleError struct {
	Position int   // the block's position in the chain (0 is genesis)
	Index    int64 // the block's own index field
	Rule     Rule
	Detail   string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("engine: block %d: %s: %s", e.Index, e.Rule, e.Detail)
}

// ErrEmptyChain is returned when a chain to validate has no blocks.
var ErrEmptyChain = errors.New("engine: chain has no blocks")

// ErrZeroTarget is returned when a chain is validated or a block mined
// against a target of 0 bits (the zero Target among them): every hash
// meets it, so it asks for no proof of work at all.
var ErrZeroTarget = errors.New("engine: the target is 0 bits, which asks for no proof of work; want a difficulty of at least 1 bit")

// Difficulty returns the target of the seed's difficulty d: the hex digest
// starts with d '0' characters.
func Difficulty(d int) (hasher.Target, error) { return hasher.TargetHexZeros(d) }

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "..."
	}
	return h
}

// checkProof checks rules hash and difficulty: the carried hash equals the
// recomputed one and meets the target.
func checkProof(pos int, b *Block, target hasher.Target) error {
	fail := func(r Rule, format string, args ...any) error {
		return &RuleError{Position: pos, Index: b.Index, Rule: r, Detail: fmt.Sprintf(format, args...)}
	}
	if b.Hash == "" {
		return fail(RuleHash, "the block carries no hash")
	}
	got := b.ComputeHash()
	if b.Hash != got {
		return fail(RuleHash, "carries %s but its contents hash to %s", short(b.Hash), short(got))
	}
	var d [32]byte
	if _, err := hex.Decode(d[:], []byte(got)); err != nil {
		return fail(RuleHash, "cannot decode %q: %v", got, err)
	}
	if !target.MeetsDigest(&d) {
		return fail(RuleDifficulty, "hash %s has %d leading zero bits, want %v", short(got), hasher.LeadingZeroBits(&d), target)
	}
	return nil
}

// ValidateNext checks that b may follow prev on a chain mined at target:
// its index is prev's plus one, its previous_hash is prev's hash, the hash
// it carries is its own, and that hash meets the target. pos is b's
// position, for the error.
func ValidateNext(prev *Block, pos int, b *Block, target hasher.Target) error {
	if target.Bits() <= 0 {
		return ErrZeroTarget
	}
	if b.Index != prev.Index+1 {
		return &RuleError{Position: pos, Index: b.Index, Rule: RuleIndex,
			Detail: fmt.Sprintf("is %d, want %d (one more than the previous block)", b.Index, prev.Index+1)}
	}
	if b.PreviousHash != prev.Hash {
		return &RuleError{Position: pos, Index: b.Index, Rule: RulePreviousHash,
			Detail: fmt.Sprintf("is %q, want the previous block's hash %s", short(b.PreviousHash), short(prev.Hash))}
	}
	return checkProof(pos, b, target)
}

// validateGenesis checks that b is the reference genesis block, compared by
// its canonical JSON and the hash it carries.
func validateGenesis(b *Block) error {
	g := Genesis()
	gc, _ := g.Canonical()
	bc, err := b.Canonical()
	if err != nil || !bytes.Equal(gc, bc) {
		got := "unencodable"
		if err == nil {
			got = string(bc)
		}
		return &RuleError{Position: 0, Index: b.Index, Rule: RuleGenesis,
			Detail: fmt.Sprintf("is %s, want %s", got, gc)}
	}
	if b.Hash != g.Hash {
		return &RuleError{Position: 0, Index: b.Index, Rule: RuleGenesis,
			Detail: fmt.Sprintf("carries hash %q, want %s", short(b.Hash), short(g.Hash))}
	}
	return nil
}

// ValidateChain checks a whole chain: its first block is the reference
// genesis block and every later block may follow the one before it. The
// error for the first bad block is a *RuleError.
func ValidateChain(blocks []*Block, target hasher.Target) error {
	if target.Bits() <= 0 {
		return ErrZeroTarget
	}
	if len(blocks) == 0 {
		return ErrEmptyChain
	}
	if err := validateGenesis(blocks[0]); err != nil {
		return err
	}
	for i := 1; i < len(blocks); i++ {
		if err := ValidateNext(blocks[i-1], i, blocks[i], target); err != nil {
			return err
		}
	}
	return nil
}

// Dump is a chain as the reference node's GET /chain answers it.
type Dump struct {
	Blocks []*Block
	Peers  []string
}

// DecodeDump reads a chain dump: either the reference node's GET /chain
// answer ({"length": N, "chain": [...], "peers": [...]}) or a bare JSON
// array of blocks. It checks the shape and the types of every field, not
// the chain's validity (see ValidateChain).
func DecodeDump(data []byte) (*Dump, error) {
	v, err := pyjson.Decode(data)
	if err != nil {
		return nil, err
	}
	d := &Dump{}
	var list []pyjson.Value
	switch v := v.(type) {
	case []pyjson.Value:
		list = v
	case pyjson.Object:
		c, ok := v["chain"]
		if !ok {
			return nil, &FieldError{Field: "chain", Msg: "missing from the chain dump"}
		}
		if list, ok = c.([]pyjson.Value); !ok {
			return nil, &FieldError{Field: "chain", Msg: "want an array, got " + pyjson.TypeName(c)}
		}
		if l, ok := v["length"]; ok {
			n, isInt := l.(pyjson.Int)
			if want := pyjson.IntFromInt64(int64(len(list))); !isInt || n != want {
				return nil, &FieldError{Field: "length", Msg: fmt.Sprintf("is %v but the chain has %d blocks", l, len(list))}
			}
		}
		if p, ok := v["peers"]; ok {
			ps, ok := p.([]pyjson.Value)
			if !ok {
				return nil, &FieldError{Field: "peers", Msg: "want an array, got " + pyjson.TypeName(p)}
			}
			for i, e := range ps {
				s, ok := e.(string)
				if !ok {
					return nil, &FieldError{Field: fmt.Sprintf("peers[%d]", i), Msg: "want a string, got " + pyjson.TypeName(e)}
				}
				d.Peers = append(d.Peers, s)
			}
		}
	default:
		return nil, &FieldError{Field: "chain", Msg: "want a chain dump object or an array of blocks, got " + pyjson.TypeName(v)}
	}
	for i, e := range list {
		b, err := BlockFromValue(e, BlockOptions{})
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil, &FieldError{Field: fmt.Sprintf("chain[%d].%s", i, fe.Field), Msg: fe.Msg}
			}
			return nil, fmt.Errorf("engine: chain[%d]: %w", i, err)
		}
		d.Blocks = append(d.Blocks, b)
	}
	return d, nil
}

// AppendDumpHead appends the start of a chain dump of n blocks, in the
// reference node's key order: {"length": N, "chain": [. The blocks follow,
// each as its wire JSON (Block.MarshalWire), separated by DumpSeparator,
// and then AppendDumpTail. EncodeDump and the node's GET /chain and export,
// which stream the blocks from their store, write dumps this one way.
func AppendDumpHead(dst []byte, n int) []byte {
	dst = append(dst, `{"length": `...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, `, "chain": [`...)
}

// DumpSeparator stands between two blocks of a chain dump.
const DumpSeparator = ", "

// AppendDumpTail appends the end of a chain dump: the peers and the
// closing brackets.
func AppendDumpTail(dst []byte, peers []string) []byte {
	dst = append(dst, `], "peers": [`...)
	for i, p := range peers {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = pyjson.AppendString(dst, p)
	}
	return append(dst, "]}"...)
}

// EncodeDump returns the reference node's GET /chain answer for blocks and
// peers, {"length": N, "chain": [...], "peers": [...]}, in its key order,
// each block with its hash and its keys sorted.
func EncodeDump(blocks []*Block, peers []string) ([]byte, error) {
	dst := AppendDumpHead(nil, len(blocks))
	for i, b := range blocks {
		if i > 0 {
			dst = append(dst, DumpSeparator...)
		}
		w, err := b.MarshalWire()
		if err != nil {
			return nil, err
		}
		dst = append(dst, w...)
	}
	return AppendDumpTail(dst, peers), nil
}
