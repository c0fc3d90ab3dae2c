package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// A chain switch: how a fork of any length replaces the blocks after the
// common ancestor in bounded memory, and atomically for a crash (see also
// doc.go, Storage).
//
//  1. Staging. The fork's blocks are written to the staging bucket (key:
//     height; value: the block's 32-byte hash, then its wire JSON) in
//     transactions of importBatch bytes, while the new chain index and
//     checksum are built in memory. The chain is untouched; a crash here
//     leaves the old chain, and Open drops the staging buckets.
//  2. The pool's changes (forkPoolChanges). The transactions of the
//     replaced blocks that are to return to the pool are staged in the
//     staging-pool bucket (key: their order), read a batch of blocks at
//     a time, memory holding a hash of each.
//  3. The commit point. One transaction writes the switch marker (meta
//     key "switch": the fork height, the new length and the new checksum
//     state) and deletes the pending records the new blocks hold. From
//     here on the switch happens, crash or not.
//  4. Moving. Staged blocks are moved into the blocks and hashes buckets,
//     lowest height first, and staged transactions into the pending
//     bucket, in transactions of importBatch bytes, each deleting what it
//     moved from the staging buckets. The meta length and checksum still
//     name the old chain while the buckets hold a mix, which is why Open,
//     finding the marker, finishes the move before it reads anything,
//     and why a reader of a running node reads the chain through the
//     marker (chainView): the new chain, from the staging bucket where it
//     is still staged and from the blocks bucket below. The node's memory
//     holds the new chain from the commit point on.
//  5. The end. One transaction writes the new length and checksum and
//     deletes the marker and the staging buckets.
var (
	bucketStaging     = []byte("staging")
	bucketStagingPool = []byte("staging-pool")
	keySwitch         = []byte("switch")
)

// switchMoved, when set (by tests), is called after each transaction of
// finishSwitch that moved blocks ("blocks") or transactions ("pool"); an
// error stops the switch there.
var switchMoved func(what string) error

// errSwitchPending is returned by a read-only open of a store whose chain
// switch was interrupted after its commit point.
var errSwitchPending = errors.New("an import or sync that replaces blocks was interrupted after it committed; open the data dir with powchain serve or import, which finishes it, before reading it")

// stageReset drops what the staging buckets hold and leaves them empty.
func (s *store) stageReset() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketStaging, bucketStagingPool} {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// stageDrop deletes the staging buckets, if any.
func (s *store) stageDrop() error {
	return s.db.Update(func(tx *bolt.Tx) error { return dropStagingTx(tx) })
}

func dropStagingTx(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketStaging, bucketStagingPool} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// stagePut writes blocks, at heights from from on, to the staging bucket
// in one transaction.
func (s *store) stagePut(from int, blocks []*block) error {
	vals := make([][]byte, len(blocks))
	for i, b := range blocks {
		h := b.hashBytes()
		vals[i] = append(append(make([]byte, 0, 32+len(b.wire)), h[:]...), b.wire...)
	}
	if err := s.stageBatch(bucketStaging, from, vals); err != nil {
		return fmt.Errorf("node: staging blocks: %w", err)
	}
	return nil
}

// stagePool writes transactions that may return to the pool with a
// switch to the staging-pool bucket, at keys first, first+1, ..., in one
// transaction.
func (s *store) stagePool(first int, canons []string) error {
	vals := make([][]byte, len(canons))
	for i, c := range canons {
		vals[i] = []byte(c)
	}
	if err := s.stageBatch(bucketStagingPool, first, vals); err != nil {
		return fmt.Errorf("node: staging the transactions that return to the pool: %w", err)
	}
	return nil
}

// stageBatch writes vals at keys first, first+1, ... of the staging
// bucket name (which must exist), packed full, in one transaction.
func (s *store) stageBatch(name []byte, first int, vals [][]byte) error {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(name)
		if b == nil {
			return fmt.Errorf("no %s bucket", name)
		}
		b.FillPercent = 1
		for i, v := range vals {
			if err := b.Put(u64(uint64(first+i)), v); err != nil {
				return err
			}
			n += len(v)
		}
		return nil
	})
	if err == nil {
		s.wrote(n)
	}
	return err
}

// unstagePool deletes the staged transactions at keys, in transactions of
// a bounded number of keys.
func (s *store) unstagePool(keys []int) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 1<<14)]
		keys = keys[len(batch):]
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketStagingPool)
			for _, k := range batch {
				if err := b.Delete(u64(uint64(k))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("node: unstaging transactions: %w", err)
		}
	}
	return nil
}

// switchMarker is what the meta key "switch" holds.
type switchMarker struct {
	fork, length int
	sum          []byte
}

func (m *switchMarker) encode() []byte {
	return append(append(u64(uint64(m.fork)), u64(uint64(m.length))...), m.sum...)
}

func decodeSwitchMarker(v []byte) (*switchMarker, error) {
	if len(v) <= 16 {
		return nil, fmt.Errorf("the switch marker is %d bytes", len(v))
	}
	return &switchMarker{
		fork:   int(binary.BigEndian.Uint64(v)),
		length: int(binary.BigEndian.Uint64(v[8:])),
		sum:    bytes.Clone(v[16:]),
	}, nil
}

// beginSwitch is the commit point of a chain switch: in one transaction it
// writes the marker m and deletes the pending records drop (the
// transactions that return to the pool wait in the staging-pool bucket
// for finishSwitch).
func (s *store) beginSwitch(m *switchMarker, drop []uint64) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketStaging) == nil || tx.Bucket(bucketStagingPool) == nil {
			return errors.New("no staging bucket")
		}
		if err := tx.Bucket(bucketMeta).Put(keySwitch, m.encode()); err != nil {
			return err
		}
		pending := tx.Bucket(bucketPending)
		for _, seq := range drop {
			if err := pending.Delete(u64(seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("node: committing a chain switch: %w", err)
	}
	return nil
}

// finishSwitch moves the staged blocks of a committed switch into the
// chain and the staged transactions into the pending bucket, in
// transactions of importBatch bytes, then writes the new length and
// checksum and deletes the marker and the staging buckets. It picks up
// where an interrupted one stopped. It does nothing without a marker.
// restored, when not nil, is called with each staged transaction and its
// key in the pending bucket.
func (s *store) finishSwitch(restored func(canon string, seq uint64)) error {
	var m *switchMarker
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keySwitch)
		if v == nil {
			return nil
		}
		var err error
		m, err = decodeSwitchMarker(v)
		return err
	})
	if err != nil || m == nil {
		return err
	}
	for done := false; !done; {
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			st := tx.Bucket(bucketStaging)
			if st == nil {
				return errors.New("the switch marker is set but there is no staging bucket")
			}
			blocks, hashes := tx.Bucket(bucketBlocks), tx.Bucket(bucketHashes)
			blocks.FillPercent, hashes.FillPercent = 1, 1
			c := st.Cursor()
			for n < importBatch {
				k, v := c.First()
				if k == nil {
					done = true
					return nil
				}
				if len(k) != 8 || len(v) <= 32 {
					return fmt.Errorf("staged key %x has a value of %d bytes", k, len(v))
				}
				if h := binary.BigEndian.Uint64(k); h < uint64(m.fork) || h >= uint64(m.length) {
					return fmt.Errorf("staged height %d is outside the switch's [%d, %d)", h, m.fork, m.length)
				}
				k, v = bytes.Clone(k), bytes.Clone(v)
				if err := blocks.Put(k, v[32:]); err != nil {
					return err
				}
				if err := hashes.Put(k, v[:32]); err != nil {
					return err
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n += len(v)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("node: %s: switching to the staged chain: %w", s.path, err)
		}
		// A move reads the staged pages and rewrites the chain's: both
		// leave the RSS after each transaction, not every dropEvery.
		s.dropMapped()
		if switchMoved != nil {
			if err := switchMoved("blocks"); err != nil {
				return err
			}
		}
	}
	for done := false; !done; {
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			st := tx.Bucket(bucketStagingPool)
			if st == nil {
				return nil // a store that staged no transactions
			}
			pending := tx.Bucket(bucketPending)
			c := st.Cursor()
			for n < importBatch {
				k, v := c.First()
				if k == nil {
					done = true
					return nil
				}
				if len(k) != 8 {
					return fmt.Errorf("staged transaction key %x", k)
				}
				seq, err := pending.NextSequence()
				if err != nil {
					return err
				}
				if err := pending.Put(u64(seq), bytes.Clone(v)); err != nil {
					return err
				}
				if restored != nil {
					restored(string(v), seq)
				}
				if err := c.Delete(); err != nil {
					return err
				}
				n += len(v)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("node: %s: returning transactions to the pool: %w", s.path, err)
		}
		s.wrote(n)
		if switchMoved != nil {
			if err := switchMoved("pool"); err != nil {
				return err
			}
		}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		blocks, hashes := tx.Bucket(bucketBlocks), tx.Bucket(bucketHashes)
		// A switch is to a longer chain, so nothing is past its end; this
		// only keeps a store whose old chain was longer consistent.
		for _, b := range []*bolt.Bucket{blocks, hashes} {
			c := b.Cursor()
			for k, _ := c.Seek(u64(uint64(m.length))); k != nil; k, _ = c.Seek(u64(uint64(m.length))) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyLength, u64(uint64(m.length))); err != nil {
			return err
		}
		if err := meta.Put(keySum, m.sum); err != nil {
			return err
		}
		if err := meta.Delete(keySwitch); err != nil {
			return err
		}
		return dropStagingTx(tx)
	})
	if err != nil {
		return fmt.Errorf("node: %s: ending a chain switch: %w", s.path, err)
	}
	return nil
}

// recoverSwitch brings a store whose last chain switch was interrupted to
// one chain: the new one if the switch had committed (finishSwitch), the
// old one otherwise (the staged blocks are dropped).
func (s *store) recoverSwitch() error {
	var marker, staging bool
	s.db.View(func(tx *bolt.Tx) error {
		marker = tx.Bucket(bucketMeta).Get(keySwitch) != nil
		staging = tx.Bucket(bucketStaging) != nil || tx.Bucket(bucketStagingPool) != nil
		return nil
	})
	switch {
	case marker:
		return s.finishSwitch(nil)
	case staging:
		return s.stageDrop()
	}
	return nil
}

// switchPendingTx reports whether the store holds a committed switch that
// is not finished.
func switchPendingTx(tx *bolt.Tx) bool { return tx.Bucket(bucketMeta).Get(keySwitch) != nil }

// forkStage is a fork on its way to replacing the node's blocks after
// height fork-1 (whose hash is base): its blocks are in the staging
// bucket, its index and checksum in memory. One stage exists at a time
// (Node.stageMu).
type forkStage struct {
	n     *Node
	fork  int
	base  [32]byte
	idx   hashIndex // the new chain's index: ours up to fork, then the staged blocks
	sum   []byte    // the checksum state of idx
	tip   *block    // the last staged block
	batch []*block  // staged blocks not yet written
	size  int       // bytes of wire JSON in batch
	bytes int64     // bytes of wire JSON staged in all
	// committed: the switch passed its commit point, the staged blocks
	// must stay; done: the stage has ended.
	committed, done bool
}

// newForkStage begins staging a fork from height fork (at least 1) of
// ours, the node's index. The caller must end it with switchFork or
// drop; it holds Node.stageMu until then.
func (n *Node) newForkStage(ours hashIndex, fork int) (*forkStage, error) {
	if fork < 1 || fork > ours.len() {
		return nil, fmt.Errorf("node: a fork at height %d of a chain of %d blocks", fork, ours.len())
	}
	n.stageMu.Lock()
	if err := n.store.stageReset(); err != nil {
		n.stageMu.Unlock()
		return nil, fmt.Errorf("node: staging a fork: %w", err)
	}
	st := &forkStage{n: n, fork: fork, base: ours.at(fork - 1), idx: ours.truncated(fork)}
	for h := 0; h < fork; h += indexChunk {
		var err error
		if st.sum, err = extendSum(st.sum, st.idx.chunks[h/indexChunk][:min(indexChunk, fork-h)]); err != nil {
			st.drop()
			return nil, err
		}
	}
	return st, nil
}

// add stages the next block of the fork (validated against the one
// before it by the caller).
func (st *forkStage) add(b *block) error {
	st.batch = append(st.batch, b)
	st.size += len(b.wire)
	st.bytes += int64(len(b.wire))
	if st.size >= importBatch {
		return st.flush()
	}
	return nil
}

// flush writes the batch to the staging bucket.
func (st *forkStage) flush() error {
	if len(st.batch) == 0 {
		return nil
	}
	hashes := make([][32]byte, len(st.batch))
	for i, b := range st.batch {
		hashes[i] = b.hashBytes()
	}
	if err := st.n.store.stagePut(st.idx.len(), st.batch); err != nil {
		return err
	}
	sum, err := extendSum(st.sum, hashes)
	if err != nil {
		return err
	}
	st.idx, st.sum, st.tip = st.idx.appended(hashes...), sum, st.batch[len(st.batch)-1]
	st.batch, st.size = nil, 0
	return nil
}

// length is the fork's chain length with what it has staged so far.
func (st *forkStage) length() int { return st.idx.len() + len(st.batch) }

// drop abandons the stage: the staged blocks are deleted.
func (st *forkStage) drop() {
	if st.done {
		return
	}
	st.done = true
	st.batch = nil
	if !st.committed {
		if err := st.n.store.stageDrop(); err != nil {
			st.n.log.Warn("dropping the staged blocks of a fork", "err", err)
		}
	}
	st.n.stageMu.Unlock()
}

// switchFork replaces the node's blocks from the stage's fork on with the
// staged ones if the fork is longer than the node's chain and the node
// still holds its base; it reports whether it did, and ends the stage
// either way. Memory holds a batch of blocks, a hash of each transaction
// that returns to the pool, and the pool itself, which grows by them
// within its limits: the pending transactions found in the new blocks leave the
// pool, and the transactions of the blocks that leave the chain return to
// it when they are in none of the new blocks, as far as the pool's limits
// (Limits.Pending, Limits.PoolBytes) allow; the rest are dropped and
// logged. A crash leaves the old chain or the new one (see the steps
// above); an error after the commit point leaves the switch for the next
// Open to finish (the node holds and serves the new chain meanwhile), and
// the node must be closed. Readers wait for the commit transaction at
// most, never for the move; chain changes wait for the whole switch
// (chainMu), so a block mined on the new tip during the move is appended
// after it; the replaced blocks' transactions return to the pool at the
// end of the move.
func (n *Node) switchFork(st *forkStage, origin string) (bool, error) {
	defer st.drop()
	if err := st.flush(); err != nil {
		return false, err
	}
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	idx := n.index
	n.mu.RUnlock()
	oldLen := idx.len()
	if st.idx.len() <= oldLen || oldLen < st.fork || idx.at(st.fork-1) != st.base {
		return false, nil
	}
	pc, err := n.forkPoolChanges(st.fork, oldLen, st.idx.len())
	if err != nil {
		return false, err
	}
	// The commit point, and the new chain in memory: readers that begin
	// a store transaction (view) wait for this one transaction at most,
	// and find in the store the chain the memory holds. From here on the
	// store's readers see the new chain (chainView) while it moves.
	n.viewMu.Lock()
	if err := n.store.beginSwitch(&switchMarker{fork: st.fork, length: st.idx.len(), sum: st.sum}, pc.drop); err != nil {
		n.viewMu.Unlock()
		return false, err
	}
	st.committed = true // the staged blocks are the chain now
	n.mu.Lock()
	n.index, n.sum, n.tip = st.idx, st.sum, st.tip
	for _, c := range pc.cleared {
		n.pool.remove(c)
	}
	// A miner starts over on the new tip, with a pool that holds none of
	// the new blocks' transactions; the block it mines waits for chainMu,
	// so for the end of the move, before it is appended.
	n.tipGen++
	if n.cancelMining != nil {
		n.cancelMining()
		n.cancelMining = nil
	}
	n.mu.Unlock()
	n.viewMu.Unlock()
	n.events.chainReplaced(oldLen, st.fork, st.idx.len(), st.tip.Hash)

	type restoredTx struct {
		canon string
		seq   uint64
	}
	restored := make([]restoredTx, 0, pc.restore)
	err = n.store.finishSwitch(func(canon string, seq uint64) { restored = append(restored, restoredTx{canon, seq}) })
	if err != nil {
		return true, err
	}
	// The replaced blocks' transactions return to the pool once their
	// records are on disk.
	n.mu.Lock()
	for _, r := range restored {
		n.pool.add(r.canon, r.seq)
	}
	n.mu.Unlock()
	if len(restored) > 0 {
		n.wake()
	}
	n.metrics.replacements.Inc()
	n.log.Info("chain replaced", "from", origin, "height", st.tip.Index, "hash", st.tip.Hash,
		"fork", st.fork, "removed", oldLen-st.fork, "added", st.idx.len()-st.fork,
		"orphaned", len(restored), "cleared", len(pc.cleared), "staged_bytes", st.bytes)
	if pc.lost > 0 {
		n.log.Warn("transactions of the replaced blocks not returned to the full pool", "count", pc.lost)
	}
	return true, nil
}

// poolChanges is what a chain switch does to the pending pool.
type poolChanges struct {
	cleared []string // pending transactions found in the new blocks
	drop    []uint64 // their store keys
	restore int      // transactions of the replaced blocks staged to return to the pool
	lost    int      // transactions of the replaced blocks left out for the pool's limits
}

// forkPoolChanges works out poolChanges for a switch that replaces the
// blocks [fork, oldLen) with the staged ones [fork, newLen), reading both
// from the store a batch of blocks at a time. The transactions that are
// to return to the pool are staged in the staging-pool bucket; memory
// holds a batch of them and a hash of each, within the pool's limits. The
// caller holds chainMu.
func (n *Node) forkPoolChanges(fork, oldLen, newLen int) (*poolChanges, error) {
	pc := &poolChanges{}
	n.mu.RLock()
	pending, room, roomBytes := n.pool.len() > 0, n.cfg.Limits.Pending-n.pool.len(), n.cfg.Limits.PoolBytes-n.pool.bytes
	n.mu.RUnlock()
	// Candidates to return to the pool: transactions of the replaced
	// blocks, not pending, each once, within the pool's room.
	cand := map[[32]byte]int{} // hash of the canonical JSON -> key in staging-pool
	candBytes := 0
	var batch []string
	var batchBytes int
	flush := func() error {
		err := n.store.stagePool(pc.restore-len(batch), batch)
		batch, batchBytes = nil, 0
		return err
	}
	var stageErr error
	err := n.store.eachTxIn(bucketBlocks, 0, fork, oldLen, func(canons []string) {
		n.mu.RLock()
		for _, c := range canons {
			h := sha256.Sum256([]byte(c))
			if _, ok := cand[h]; ok || n.pool.has(c) {
				continue
			}
			if pc.restore >= room || candBytes+len(c) > roomBytes {
				pc.lost++
				continue
			}
			cand[h] = pc.restore
			pc.restore++
			candBytes += len(c)
			batch = append(batch, c)
			batchBytes += len(c)
		}
		n.mu.RUnlock()
		if batchBytes >= importBatch && stageErr == nil {
			stageErr = flush()
		}
	})
	if err == nil && stageErr == nil && len(batch) > 0 {
		stageErr = flush()
	}
	if err == nil {
		err = stageErr
	}
	if err != nil || (len(cand) == 0 && !pending) {
		return pc, err
	}
	// The new blocks' transactions neither return to the pool nor stay
	// in it.
	cleared := map[string]struct{}{}
	var unstage []int
	err = n.store.eachTxIn(bucketStaging, 32, fork, newLen, func(canons []string) {
		n.mu.RLock()
		defer n.mu.RUnlock()
		for _, c := range canons {
			if len(cand) > 0 {
				h := sha256.Sum256([]byte(c))
				if i, ok := cand[h]; ok {
					unstage = append(unstage, i)
					delete(cand, h)
				}
			}
			if !pending {
				continue
			}
			if _, ok := cleared[c]; ok {
				continue
			}
			if e, ok := n.pool.byCanon[c]; ok {
				cleared[c] = struct{}{}
				pc.cleared = append(pc.cleared, c)
				pc.drop = append(pc.drop, e.seqs...)
			}
		}
	})
	if err == nil {
		err = n.store.unstagePool(unstage)
	}
	if err != nil {
		return nil, err
	}
	pc.restore -= len(unstage)
	return pc, nil
}

// eachTxIn reads the blocks at heights [from, to) of a bucket keyed by
// height (their wire JSON after skip bytes of each value) and calls f with
// the canonical JSON of their transactions, a batch of blocks at a time,
// outside any store transaction.
func (s *store) eachTxIn(bucket []byte, skip, from, to int, f func(canons []string)) error {
	for at := from; at < to; {
		var canons []string
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			pd := newPageDropper(s.db, tx) // the pages read leave the RSS
			defer pd.drop()
			size := 0
			k, v := c.Seek(u64(uint64(at)))
			for ; at < to && size < importBatch; k, v = c.Next() {
				if k == nil || binary.BigEndian.Uint64(k) != uint64(at) || len(v) <= skip {
					return fmt.Errorf("the %s bucket has no block at height %d", bucket, at)
				}
				b, err := engine.DecodeBlock(v[skip:], engine.BlockOptions{})
				if err != nil {
					return fmt.Errorf("the %s bucket's block at height %d: %w", bucket, at, err)
				}
				for _, t := range b.Transactions {
					if c, err := pyjson.Encode(t); err == nil { // a stored block always encodes
						canons = append(canons, string(c))
					}
				}
				pd.add(v)
				size += len(v)
				at++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("node: %s: %w", s.path, err)
		}
		f(canons)
	}
	return nil
}
