package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// maxDumpPeers is how many peer URLs of a chain dump are kept; the rest
// are read and skipped.
const maxDumpPeers = 64

// errChainTooBig is returned when a peer's chain answer passes
// Limits.ChainBytes.
type errChainTooBig struct{ limit int64 }

func (e errChainTooBig) Error() string {
	return fmt.Sprintf("the answer is over the limit of %d bytes", e.limit)
}

// chainReader reads a peer's chain dump as a stream, block by block: it
// never holds more than one block's text, a non-object where a block
// belongs is refused at once, and every block is validated against the
// one before it as it arrives, so a hostile answer is refused at its
// first bad block. The valid blocks are handed to each, never collected,
// so memory holds a block or two however long the answer. The bytes it
// reads count against Limits.ChainBytes (decompressed bytes: the HTTP
// client decompresses before this reader sees them).
type chainReader struct {
	r        *bufio.Reader
	ctx      context.Context
	read     int64
	limit    int64 // answer bytes
	blockMax int64 // one block's bytes
	target   hasher.Target
	buf      []byte

	allowLength bool // an object with "length" and no "chain" is an answer
	length      int  // its length, when it was one; -1 otherwise

	// A local dump (ScanDump): nesting up to pyjson.MaxDepth as a whole
	// document, values of unknown keys decoded, and each may be nil;
	// after the first bad block the rest is still read and decoded, so
	// that malformed input is told apart from an invalid chain wherever
	// it is.
	local   bool
	each    func(pos int, b *engine.Block) error
	outer   int           // nesting levels around a block: 1 in a bare array, 2 in a dump object
	count   int           // blocks read
	last    *engine.Block // the last valid block
	invalid error         // the first rule broken
	bad     *engine.Block // the block that broke it
}

func (c *chainReader) readByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err != nil {
		if err == io.EOF {
			return 0, errEOF
		}
		return 0, err
	}
	c.read++
	if c.read > c.limit {
		return 0, errChainTooBig{c.limit}
	}
	return b, nil
}

func (c *chainReader) unread() { c.r.UnreadByte(); c.read-- }

// strRun appends to c.buf, in bulk, the buffered bytes of a string's
// contents up to its next quote or backslash, at most up to limit bytes
// in c.buf (the byte past it is left for grow to refuse). They count as
// readByte counts them.
func (c *chainReader) strRun(limit int64) error {
	buf, _ := c.r.Peek(c.r.Buffered())
	if q := bytes.IndexByte(buf, '"'); q >= 0 {
		buf = buf[:q]
	}
	if e := bytes.IndexByte(buf, '\\'); e >= 0 {
		buf = buf[:e]
	}
	if room := limit - int64(len(c.buf)); int64(len(buf)) > room {
		buf = buf[:max(room, 0)]
	}
	if len(buf) == 0 {
		return nil
	}
	c.read += int64(len(buf))
	if c.read > c.limit {
		return errChainTooBig{c.limit}
	}
	c.buf = append(c.buf, buf...)
	c.r.Discard(len(buf))
	return nil
}

// next returns the next byte that is not JSON whitespace.
func (c *chainReader) next() (byte, error) {
	for {
		b, err := c.readByte()
		if err != nil || !isJSONSpace(b) {
			return b, err
		}
	}
}

func isJSONSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// raw reads one JSON value starting with first (already read) into c.buf:
// a string, an array or object (to its matching close, at most depth
// levels deep), or a literal or number (to the byte before the next
// delimiter). It checks the extent, not the syntax, which pyjson.Decode
// checks next. The value may not pass max bytes; what names it.
func (c *chainReader) raw(first byte, max int64, depth int, what string) ([]byte, error) {
	c.buf = append(c.buf[:0], first)
	grow := func(b byte) error {
		if int64(len(c.buf)) >= max {
			return fmt.Errorf("%s is over the limit of %d bytes", what, max)
		}
		c.buf = append(c.buf, b)
		return nil
	}
	switch first {
	case '"':
		esc := false
		for {
			if !esc {
				if err := c.strRun(max); err != nil {
					return nil, err
				}
			}
			b, err := c.readByte()
			if err != nil {
				return nil, err
			}
			if err := grow(b); err != nil {
				return nil, err
			}
			switch {
			case esc:
				esc = false
			case b == '\\':
				esc = true
			case b == '"':
				return c.buf, nil
			}
		}
	case '[', '{':
		level, inStr, esc := 1, false, false
		for level > 0 {
			if inStr && !esc {
				if err := c.strRun(max); err != nil {
					return nil, err
				}
			}
			b, err := c.readByte()
			if err != nil {
				return nil, err
			}
			if err := grow(b); err != nil {
				return nil, err
			}
			switch {
			case inStr && esc:
				esc = false
			case inStr && b == '\\':
				esc = true
			case inStr && b == '"':
				inStr = false
			case inStr:
			case b == '"':
				inStr = true
			case b == '[' || b == '{':
				if level++; level > depth {
					return nil, fmt.Errorf("%s is nested deeper than %d levels", what, depth)
				}
			case b == ']' || b == '}':
				level--
			}
		}
		return c.buf, nil
	}
	for {
		b, err := c.readByte()
		if err == errEOF {
			return c.buf, nil
		}
		if err != nil {
			return nil, err
		}
		if isJSONSpace(b) || b == ',' || b == ']' || b == '}' || b == ':' {
			c.unread()
			return c.buf, nil
		}
		if err := grow(b); err != nil {
			return nil, err
		}
	}
}

var errEOF = errors.New("unexpected end of the answer")

// decodeRaw reads and decodes one value.
func (c *chainReader) decodeRaw(first byte, max int64, depth int, what string) (pyjson.Value, error) {
	text, err := c.raw(first, max, depth, what)
	if err != nil {
		return nil, err
	}
	v, err := pyjson.Decode(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// dump reads the whole answer: the reference node's {"length": N,
// "chain": [...], "peers": [...]} or a bare array of blocks.
func (c *chainReader) dump() (*engine.Dump, error) {
	first, err := c.next()
	if err != nil {
		return nil, err
	}
	if first == 0xef { // a UTF-8 byte order mark, as CPython allows
		if b1, _ := c.readByte(); b1 == 0xbb {
			if b2, _ := c.readByte(); b2 == 0xbf {
				if first, err = c.next(); err != nil {
					return nil, err
				}
			}
		}
	}
	d := &engine.Dump{}
	switch first {
	case '[':
		c.outer = 1
		if err = c.blocks(); err != nil {
			return nil, err
		}
	case '{':
		c.outer = 2
		if err := c.object(d); err != nil {
			return nil, err
		}
	default:
		c.unread()
		b, _ := c.r.Peek(8)
		return nil, &engine.FieldError{Field: "chain", Msg: "want a chain dump object or an array of blocks, got " + startName(append([]byte{first}, b...))}
	}
	if b, err := c.r.ReadByte(); err == nil {
		for isJSONSpace(b) && err == nil {
			b, err = c.r.ReadByte()
		}
		if err == nil {
			return nil, errors.New("extra data after the chain dump")
		}
	}
	if c.count == 0 && c.length < 0 && !c.local {
		return nil, engine.ErrEmptyChain
	}
	return d, nil
}

// object reads the members of a dump object after its '{'.
func (c *chainReader) object(d *engine.Dump) error {
	seen := map[string]bool{}
	var length pyjson.Value
	for i := 0; ; i++ {
		b, err := c.next()
		if err != nil {
			return err
		}
		if b == '}' && i == 0 {
			break
		}
		if b != '"' {
			return errors.New("the chain dump object: want a key")
		}
		keyMax := int64(256)
		if c.local {
			keyMax = c.blockMax
		}
		kv, err := c.decodeRaw(b, keyMax, 0, "a key of the chain dump")
		if err != nil {
			return err
		}
		key := kv.(string)
		// A local dump follows CPython's json.loads: the last of a key
		// given twice wins. Not for blocks already handed on, nor for a
		// peer's answer.
		if seen[key] && (!c.local || key == "chain" && c.each != nil) {
			return &engine.FieldError{Field: key, Msg: "appears twice in the chain dump"}
		}
		seen[key] = true
		if b, err = c.next(); err != nil {
			return err
		}
		if b != ':' {
			return errors.New("the chain dump object: want ':' after a key")
		}
		if b, err = c.next(); err != nil {
			return err
		}
		switch key {
		case "chain":
			if b != '[' {
				return &engine.FieldError{Field: "chain", Msg: "want an array, got " + startName([]byte{b})}
			}
			c.count, c.last, c.invalid, c.bad = 0, nil, nil, nil
			if err = c.blocks(); err != nil {
				return err
			}
		case "length":
			if length, err = c.decodeRaw(b, 64, 0, `"length"`); err != nil {
				return err
			}
		case "peers":
			if b != '[' {
				return &engine.FieldError{Field: "peers", Msg: "want an array, got " + startName([]byte{b})}
			}
			d.Peers = nil
			if err := c.peers(d); err != nil {
				return err
			}
		default: // kept by the reference node, ignored here
			what := fmt.Sprintf("the value of %q", key)
			if c.local {
				_, err = c.decodeRaw(b, c.blockMax, pyjson.MaxDepth-1, what)
			} else {
				_, err = c.raw(b, c.blockMax, maxDumpDepth, what)
			}
			if err != nil {
				return err
			}
		}
		if b, err = c.next(); err != nil {
			return err
		}
		if b == '}' {
			break
		}
		if b != ',' {
			return errors.New("the chain dump object: want ',' or '}' after a value")
		}
	}
	if !seen["chain"] {
		if n, ok := length.(pyjson.Int); ok && c.allowLength {
			if l, ok := n.Int64(); ok && l >= 1 && l <= 1<<40 {
				c.length = int(l)
				return nil
			}
		}
		return &engine.FieldError{Field: "chain", Msg: "missing from the chain dump"}
	}
	if length != nil {
		n, isInt := length.(pyjson.Int)
		if want := pyjson.IntFromInt64(int64(c.count)); !isInt || n != want {
			return &engine.FieldError{Field: "length", Msg: fmt.Sprintf("is %v but the chain has %d blocks", length, c.count)}
		}
	}
	return nil
}

// peers reads the peers array after its '['.
func (c *chainReader) peers(d *engine.Dump) error {
	for i := 0; ; i++ {
		b, err := c.next()
		if err != nil {
			return err
		}
		if b == ']' && i == 0 {
			return nil
		}
		if b != '"' {
			return &engine.FieldError{Field: fmt.Sprintf("peers[%d]", i), Msg: "want a string, got " + startName([]byte{b})}
		}
		v, err := c.decodeRaw(b, maxPeerURL+64, 0, fmt.Sprintf("peers[%d]", i))
		if err != nil {
			return err
		}
		if len(d.Peers) < maxDumpPeers {
			d.Peers = append(d.Peers, v.(string))
		}
		if b, err = c.next(); err != nil {
			return err
		}
		if b == ']' {
			return nil
		}
		if b != ',' {
			return errors.New("the peers array: want ',' or ']' after a URL")
		}
	}
}

// blocks reads the blocks array after its '[', validating each block
// against the one before it, and hands each valid block to c.each (when
// set); it keeps only the last one.
func (c *chainReader) blocks() error {
	depth := MaxBlockDepth
	if c.local {
		depth = pyjson.MaxDepth - c.outer
	}
	for i := 0; ; i++ {
		b, err := c.next()
		if err != nil {
			return err
		}
		if b == ']' && i == 0 {
			return nil
		}
		if c.local {
			if err := c.ctx.Err(); err != nil {
				return err
			}
		}
		if b != '{' {
			return &engine.FieldError{Field: fmt.Sprintf("chain[%d]", i), Msg: "want a block object, got " + startName([]byte{b})}
		}
		v, err := c.decodeRaw(b, c.blockMax, depth, fmt.Sprintf("chain[%d]", i))
		if err != nil {
			return err
		}
		blk, err := engine.BlockFromValue(v, engine.BlockOptions{})
		if err != nil {
			var fe *engine.FieldError
			if errors.As(err, &fe) {
				return &engine.FieldError{Field: fmt.Sprintf("chain[%d].%s", i, fe.Field), Msg: fe.Msg}
			}
			return fmt.Errorf("chain[%d]: %w", i, err)
		}
		c.count++
		if err := c.accept(i, blk); err != nil {
			return err
		}
		if b, err = c.next(); err != nil {
			return err
		}
		if b == ']' {
			return nil
		}
		if b != ',' {
			return fmt.Errorf("the chain array: want ',' or ']' after chain[%d]", i)
		}
	}
}

// accept validates block i against the one before it. A local reader
// records the first failure and goes on reading; the others stop there.
func (c *chainReader) accept(i int, blk *engine.Block) error {
	if c.invalid != nil {
		return nil
	}
	var err error
	if i == 0 {
		err = engine.ValidateChain([]*engine.Block{blk}, c.target)
	} else {
		err = engine.ValidateNext(c.last, i, blk, c.target)
	}
	if err == nil && !c.local {
		if err = checkBlockDepth(blk); err != nil {
			err = fmt.Errorf("chain[%d]: %w", i, err)
		}
	}
	if err != nil {
		if !c.local {
			return err
		}
		c.invalid, c.bad = err, blk
		return nil
	}
	c.last = blk
	if c.each != nil {
		return c.each(i, blk)
	}
	return nil
}

// readChainOrLength reads a peer's chain answer from r (see
// chainReader), handing each valid block to each as it arrives; the dump
// it returns has the answer's peers and no blocks. With allowLength, it
// also takes {"length": N, "peers": [...]} without a chain (a powchain
// peer's answer to POST /register_node?paged=1): it returns N, and -1
// for a chain.
func (n *Node) readChainOrLength(ctx context.Context, r io.Reader, allowLength bool, each func(pos int, b *engine.Block) error) (*engine.Dump, int, error) {
	c := &chainReader{
		r: bufio.NewReaderSize(r, 32<<10), ctx: ctx,
		limit: n.cfg.Limits.ChainBytes, blockMax: n.cfg.Limits.BlockBytes, target: n.target,
		allowLength: allowLength, length: -1, each: each,
	}
	d, err := c.dump()
	return d, c.length, err
}

// DumpScan is what ScanDump found in a chain dump.
type DumpScan struct {
	Blocks int           // the number of blocks in the dump
	Last   *engine.Block // the last block of a valid chain
	Peers  []string      // the dump's first peer URLs (at most 64)
	// Invalid is the first rule the chain breaks: a *engine.RuleError,
	// engine.ErrEmptyChain, or engine.ErrZeroTarget; nil for a valid
	// chain. Bad is the block it is about, when it is about one.
	Invalid error
	Bad     *engine.Block
}

// Limits of ScanDump.
const (
	// MaxLocalBlockBytes is the largest block ScanDump reads.
	MaxLocalBlockBytes = 256 << 20
)

// ScanDump reads a chain dump from a local file or pipe (the reference
// node's {"length": N, "chain": [...], "peers": [...]} or a bare array of
// blocks) as a stream, block by block, and validates the chain at target
// as it goes. It holds one block's text, the block being checked and the
// one before it, whatever the dump's length. Each block that is valid so
// far is handed to each (which may be nil), in order; an error from each
// stops the scan and is returned.
//
// The error is for a dump that is not one (it ends with the offset in
// the dump where reading stopped): not JSON, a block with a field
// of the wrong type, a "length" that is not the number of blocks, a
// "chain" given twice when each is set, nesting deeper than
// pyjson.MaxDepth, a block over
// MaxLocalBlockBytes. The whole dump is read to tell that, even after a
// bad block. A dump that is one but not a valid chain is reported in
// DumpScan.Invalid. Keys other than "length", "chain" and "peers" are
// decoded and ignored, as the reference node does; of a key given twice
// the last one counts, as in CPython's json.loads.
func ScanDump(ctx context.Context, r io.Reader, target hasher.Target, each func(pos int, b *engine.Block) error) (*DumpScan, error) {
	c := &chainReader{
		r: bufio.NewReaderSize(r, 64<<10), ctx: ctx,
		limit: math.MaxInt64, blockMax: MaxLocalBlockBytes, target: target,
		length: -1, local: true, each: each,
	}
	d, err := c.dump()
	switch {
	case err == errEOF:
		return nil, errors.New("unexpected end of the chain dump")
	case err != nil && ctx.Err() == nil:
		return nil, fmt.Errorf("%w (the dump's byte %d)", err, c.read)
	case err != nil:
		return nil, err
	}
	s := &DumpScan{Blocks: c.count, Peers: d.Peers, Invalid: c.invalid, Bad: c.bad}
	switch {
	case c.count == 0:
		s.Invalid = engine.ErrEmptyChain
	case c.invalid == nil:
		s.Last = c.last
	}
	return s, nil
}
