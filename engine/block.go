package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// Block is one block of the chain, with the reference node's five hashed
// fields and the hash it carries on the wire.
type Block struct {
	Index        int64
	Transactions []pyjson.Value // any JSON values; the node's are objects
	Timestamp    pyjson.Value   // a pyjson.Int or pyjson.Float, kept as it came
	PreviousHash string
	Nonce        uint64

	// Hash is the hex hash the block carried when it was decoded, or the
	// one set when it was mined or added; "" when it has none. It is never
	// part of what is hashed.
	Hash string
}

// Genesis returns the reference node's genesis block: index 0, no
// transactions, timestamp 0 (an integer), previous_hash "0", nonce 0.
func Genesis() *Block {
	b := &Block{Index: 0, Transactions: []pyjson.Value{}, Timestamp: pyjson.Int("0"), PreviousHash: "0"}
	b.Hash = b.ComputeHash()
	return b
}

// FieldError is returned when a block (or another input) lacks a field or
// has one of the wrong type or value.
type FieldError struct {
	Field string // "index", "transactions", "timestamp", ...
	Msg   string // what is wrong with it
}

func (e *FieldError) Error() string { return fmt.Sprintf("engine: field %q: %s", e.Field, e.Msg) }

// BlockOptions says which fields DecodeBlock requires.
type BlockOptions struct {
	// NoNonce makes the nonce optional and ignored: the input is a block
	// template to mine.
	NoNonce bool
}

// DecodeBlock decodes one block from JSON text, as a peer or a file gives
// it. Keys other than the five hashed fields and "hash" are ignored, as the
// reference node ignores them.
func DecodeBlock(data []byte, opts BlockOptions) (*Block, error) {
	v, err := pyjson.Decode(data)
	if err != nil {
		return nil, err
	}
	return BlockFromValue(v, opts)
}

// BlockFromValue makes a block from a decoded JSON object.
func BlockFromValue(v pyjson.Value, opts BlockOptions) (*Block, error) {
	obj, ok := v.(pyjson.Object)
	if !ok {
		return nil, &FieldError{Field: "block", Msg: "want a JSON object, got " + pyjson.TypeName(v)}
	}
	b := &Block{}
	get := func(name string) (pyjson.Value, error) {
		f, ok := obj[name]
		if !ok {
			return nil, &FieldError{Field: name, Msg: "missing"}
		}
		return f, nil
	}

	f, err := get("index")
	if err != nil {
		return nil, err
	}
	i, ok := f.(pyjson.Int)
	if !ok {
		return nil, &FieldError{Field: "index", Msg: "want an integer, got " + pyjson.TypeName(f)}
	}
	if b.Index, ok = i.Int64(); !ok {
		return nil, &FieldError{Field: "index", Msg: fmt.Sprintf("%s does not fit in 64 bits", i)}
	}

	if f, err = get("transactions"); err != nil {
		return nil, err
	}
	if b.Transactions, ok = f.([]pyjson.Value); !ok {
		return nil, &FieldError{Field: "transactions", Msg: "want an array, got " + pyjson.TypeName(f)}
	}

	if f, err = get("timestamp"); err != nil {
		return nil, err
	}
	switch f.(type) {
	case pyjson.Int, pyjson.Float:
		b.Timestamp = f
	default:
		return nil, &FieldError{Field: "timestamp", Msg: "want a number, got " + pyjson.TypeName(f)}
	}

	if f, err = get("previous_hash"); err != nil {
		return nil, err
	}
	if b.PreviousHash, ok = f.(string); !ok {
		return nil, &FieldError{Field: "previous_hash", Msg: "want a string, got " + pyjson.TypeName(f)}
	}

	if !opts.NoNonce {
		if f, err = get("nonce"); err != nil {
			return nil, err
		}
		n, ok := f.(pyjson.Int)
		if !ok {
			return nil, &FieldError{Field: "nonce", Msg: "want an integer, got " + pyjson.TypeName(f)}
		}
		if b.Nonce, ok = n.Uint64(); !ok {
			return nil, &FieldError{Field: "nonce", Msg: fmt.Sprintf("%s is not in [0, 2^64)", n)}
		}
	}

	if f, ok := obj["hash"]; ok {
		if b.Hash, ok = f.(string); !ok {
			return nil, &FieldError{Field: "hash", Msg: "want a string, got " + pyjson.TypeName(f)}
		}
	}
	return b, nil
}

// appendPrefix appends the canonical JSON of the block up to the nonce:
// with sorted keys the nonce is the second field.
func (b *Block) appendPrefix(dst []byte) []byte {
	dst = append(dst, `{"index": `...)
	dst = strconv.AppendInt(dst, b.Index, 10)
	return append(dst, `, "nonce": `...)
}

// appendSuffix appends the canonical JSON of the block after the nonce.
func (b *Block) appendSuffix(dst []byte) ([]byte, error) {
	dst = append(dst, `, "previous_hash": `...)
	dst = pyjson.AppendString(dst, b.PreviousHash)
	dst = append(dst, `, "timestamp": `...)
	var err error
	if dst, err = pyjson.AppendEncode(dst, b.Timestamp); err != nil {
		return nil, fmt.Errorf("engine: timestamp: %w", err)
	}
	dst = append(dst, `, "transactions": `...)
	if dst, err = pyjson.AppendEncode(dst, b.Transactions); err != nil {
		return nil, fmt.Errorf("engine: transactions: %w", err)
	}
	return append(dst, '}'), nil
}

// Canonical returns what the block's hash is taken over: CPython's
// json.dumps of its five fields with sort_keys=True.
func (b *Block) Canonical() ([]byte, error) {
	dst := b.appendPrefix(make([]byte, 0, 256))
	dst = strconv.AppendUint(dst, b.Nonce, 10)
	return b.appendSuffix(dst)
}

// ComputeHash returns the hex SHA-256 of the block's canonical JSON. A
// block whose values cannot be encoded (which DecodeBlock never yields)
// hashes to "".
func (b *Block) ComputeHash() string {
	c, err := b.Canonical()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:])
}

// Template returns the block serialized once as a mining template: the
// canonical JSON before the nonce and after it.
func (b *Block) Template() (*hasher.Template, error) {
	suffix, err := b.appendSuffix(nil)
	if err != nil {
		return nil, err
	}
	return hasher.NewTemplate(b.appendPrefix(nil), suffix), nil
}

// Object returns the block as a JSON object with its hash (when it has
// one), as a peer announces it and as /chain lists it.
func (b *Block) Object() pyjson.Object {
	o := pyjson.Object{
		"index":         pyjson.IntFromInt64(b.Index),
		"transactions":  b.Transactions,
		"timestamp":     b.Timestamp,
		"previous_hash": b.PreviousHash,
		"nonce":         pyjson.IntFromUint64(b.Nonce),
	}
	if b.Hash != "" {
		o["hash"] = b.Hash
	}
	return o
}

// MarshalWire returns the block as one line of JSON with its hash, keys
// sorted: the form peers announce and `powchain mine` prints.
func (b *Block) MarshalWire() ([]byte, error) { return pyjson.Encode(b.Object()) }
