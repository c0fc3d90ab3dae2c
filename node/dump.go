package node

import (
	"bytes"
	"context"
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
	return res, n.addDumpPeers(res, d.Peers)
}

// importBatch is how many bytes of blocks ImportFrom appends to the store
// in one transaction.
var importBatch = 2 << 20 // a variable for tests

// errStop stops a scan of ImportFrom at position pos.
type errStop struct{ pos int }

func (e errStop) Error() string { return fmt.Sprintf("stopped at block %d", e.pos) }

// ImportFrom is Import for a dump read as a stream, however long: scan is
// what ScanDump found in it (a valid chain; ImportFrom refuses any other),
// and open returns the dump from its start, as often as it is called. The
// dump is read again, validated again, and compared with the node's chain
// as it goes. A dump that continues the node's chain is appended in
// batches of 2 MiB of blocks, each one store transaction, as a sync from a
// powchain peer appends its pages; memory holds a batch. Interrupted, the
// store holds the node's chain or a longer prefix of the dump, a valid
// chain either way. A dump that forks from the node's chain is staged in
// the store in batches as it is read, then replaces the blocks from the
// fork on (see switchFork): memory holds a batch here too, and a crash
// leaves the node's chain or the dump's, never a mix. A dump that is not
// longer changes nothing, and is ErrNotLonger unless it is a prefix of the
// node's chain. The dump's peers are added.
func (n *Node) ImportFrom(ctx context.Context, scan *DumpScan, open func() (io.ReadCloser, error)) (*ImportResult, error) {
	if scan.Invalid != nil {
		return nil, scan.Invalid
	}
	res := &ImportResult{Length: scan.Blocks}
	n.mu.RLock()
	ours := n.index
	n.mu.RUnlock()
	pass := func(each func(pos int, b *engine.Block) error) error {
		r, err := open()
		if err != nil {
			return err
		}
		defer r.Close()
		s, err := ScanDump(ctx, r, n.target, each)
		switch {
		case err != nil:
			return err
		case s.Invalid != nil:
			return s.Invalid
		case s.Blocks != scan.Blocks:
			return fmt.Errorf("the dump changed while it was imported: %d blocks, then %d", scan.Blocks, s.Blocks)
		}
		return nil
	}
	differ := func(pos int, b *engine.Block) bool {
		h, err := hashBytes(b.Hash)
		return err != nil || h != ours.at(pos)
	}
	var stop errStop
	if scan.Blocks <= ours.len() {
		err := pass(func(pos int, b *engine.Block) error {
			if differ(pos, b) {
				return errStop{pos}
			}
			return nil
		})
		if errors.As(err, &stop) {
			return nil, fmt.Errorf("%w: the dump has %d blocks and ours %d, and they differ at block %d", ErrNotLonger, scan.Blocks, ours.len(), stop.pos)
		}
		if err != nil {
			return nil, err
		}
	} else {
		var batch []*block
		size := 0
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			n.mu.RLock()
			idx := n.index
			n.mu.RUnlock()
			ok, err := n.adoptFork(idx.len(), idx.at(idx.len()-1), batch, "import")
			if err == nil && !ok {
				err = errors.New("the node's chain changed during the import")
			}
			batch, size = nil, 0
			res.Replaced = res.Replaced || ok
			return err
		}
		var stage *forkStage // a fork: its blocks go to the staging bucket
		defer func() {
			if stage != nil {
				stage.drop()
			}
		}()
		err := pass(func(pos int, b *engine.Block) error {
			if stage == nil && pos < ours.len() {
				if !differ(pos, b) {
					return nil
				}
				if pos < 1 {
					return errors.New("the dump's genesis block differs from ours")
				}
				var err error // a fork at pos: nothing was written
				if stage, err = n.newForkStage(ours, pos); err != nil {
					return err
				}
			}
			nb, err := newBlock(b)
			if err != nil {
				return err
			}
			if stage != nil {
				return stage.add(nb)
			}
			batch = append(batch, nb)
			if size += len(nb.wire); size >= importBatch {
				return flush()
			}
			return nil
		})
		switch {
		case err == nil && stage != nil:
			res.Replaced, err = n.switchFork(stage, "import")
		case err == nil:
			err = flush()
		}
		if err != nil {
			return nil, err
		}
	}
	return res, n.addDumpPeers(res, scan.Peers)
}

// addDumpPeers adds a dump's peers, those that are http(s) base URLs, and
// records them in res (NewPeers) or, the others, as skipped.
func (n *Node) addDumpPeers(res *ImportResult, urls []string) error {
	var peers []string
	for _, p := range urls {
		if q, err := NormalizePeer(p); err == nil {
			peers = append(peers, q)
		} else {
			res.Skipped = append(res.Skipped, p)
		}
	}
	var err error
	res.NewPeers, err = n.AddPeers(peers...)
	return err
}
