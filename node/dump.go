package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// ExportTo reads the store in dir without writing to it and streams its
// chain and peers to w in the reference node's dump format, the GET /chain
// answer: {"length": N, "chain": [...], "peers": [...]}, the blocks as
// stored. The chain index is checked against its checksum first; with
// revalidate every block is validated at the store's difficulty too. The
// store must not be open in another process (a running node serves the
// same dump at GET /chain).
func ExportTo(dir string, w io.Writer, revalidate bool) error {
	st, bits, err := openStore(dir, hasher.Target{}, 0, true)
	if err != nil {
		return err
	}
	defer st.close()
	target, err := hasher.TargetBits(bits)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDataDirMismatch, st.path, err)
	}
	c, err := st.load(target, revalidate)
	if err != nil {
		return err
	}
	return st.db.View(func(tx *bolt.Tx) error { return st.writeDump(tx, w, c.peers) })
}

// Export is ExportTo into memory, with every block validated.
func Export(dir string) ([]byte, error) {
	var b bytes.Buffer
	if err := ExportTo(dir, &b, true); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ErrNotLonger is returned by Import when the dump's chain is valid but
// neither longer than the node's nor a prefix of it.
var ErrNotLonger = errors.New("node: the imported chain is not longer than ours")

// ImportResult says what Import did.
type ImportResult struct {
	Length   int      // blocks in the dump
	Replaced bool     // whether the dump's chain replaced ours
	NewPeers []string // peers added from the dump
	Skipped  []string // peer URLs in the dump that are not http(s) base URLs
}

// Import reads a chain dump (the reference node's GET /chain answer or a
// bare array of blocks, decoded with engine.DecodeDump) into the node. The
// chain must be valid (the error is the *engine.RuleError of its first bad
// block) and is adopted as a peer's would be: when it is longer than the
// node's. A dump that is the node's chain or a prefix of it changes
// nothing; a shorter or equal chain that differs is ErrNotLonger. The
// dump's peers are added.
func (n *Node) Import(d *engine.Dump) (*ImportResult, error) {
	if err := engine.ValidateChain(d.Blocks, n.target); err != nil {
		return nil, err
	}
	res := &ImportResult{Length: len(d.Blocks)}
	n.mu.RLock()
	ours := n.index
	n.mu.RUnlock()
	if len(d.Blocks) <= ours.len() {
		for i, b := range d.Blocks {
			if h, err := hashBytes(b.Hash); err != nil || ours.at(i) != h {
				return nil, fmt.Errorf("%w: the dump has %d blocks and ours %d, and they differ at block %d", ErrNotLonger, len(d.Blocks), ours.len(), i)
			}
		}
	} else {
		var err error
		if res.Replaced, err = n.adoptValid(d.Blocks, "import"); err != nil {
			return nil, err
		}
	}
	var peers []string
	for _, p := range d.Peers {
		if q, err := NormalizePeer(p); err == nil {
			peers = append(peers, q)
		} else {
			res.Skipped = append(res.Skipped, p)
		}
	}
	var err error
	res.NewPeers, err = n.AddPeers(peers...)
	return res, err
}
