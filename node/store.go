package node

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// StoreFile is the name of the bbolt file inside a data directory.
const StoreFile = "powchain.db"

// storeFormat is written once into the meta bucket; a store of another
// format is refused.
const storeFormat = "powchain-node/2"

var (
	bucketMeta    = []byte("meta")
	bucketBlocks  = []byte("blocks")
	bucketHashes  = []byte("hashes")
	bucketPending = []byte("pending")
	bucketPeers   = []byte("peers")

	keyFormat  = []byte("format")
	keyBits    = []byte("bits")
	keyGenesis = []byte("genesis")
	keyCreated = []byte("created")
	keyLength  = []byte("length")
	keySum     = []byte("sum")
)

// ErrDataDirMismatch is returned by Open when the data directory holds a
// chain made for another difficulty, another genesis block or another store
// format than the node is asked to run.
var ErrDataDirMismatch = errors.New("node: data dir belongs to another chain")

// ErrDataDirLocked is returned by Open when another process holds the data
// directory's store open.
var ErrDataDirLocked = errors.New("node: data dir is in use by another process")

// ErrNoStore is returned by Export when the directory holds no store.
var ErrNoStore = errors.New("node: no powchain store in the data dir")

// ErrCorrupt is returned by Open when the store's chain index does not
// match its checksum, or its blocks do not match the index (with
// Config.Revalidate).
var ErrCorrupt = errors.New("node: the store is corrupt")

// lockTimeout is how long Open waits for another process's lock on the
// store before it gives up with ErrDataDirLocked.
var lockTimeout = time.Second

// mmapSize is the size bbolt maps the file at first. A write that grows
// the file past the mapping must wait for every read transaction to end,
// and GET /chain holds one while it streams; mapping far more than the
// file needs (address space, not memory) keeps writers from waiting.
var mmapSize = func() int {
	if strconv.IntSize == 64 {
		return 64 << 30
	}
	return 256 << 20
}()

// store is the durable state in a data directory: one bbolt file with the
// blocks, the chain index, the pending transactions and the peers (see
// doc.go, Storage).
type store struct {
	db      *bolt.DB
	path    string
	written atomic.Int64 // bytes written since the last dropMapped
}

// dropEvery is how many bytes of values the store writes between two
// calls of dropMapped.
const dropEvery = 32 << 20

// wrote counts bytes written and drops the mapped pages every dropEvery.
func (s *store) wrote(n int) {
	if s.written.Add(int64(n)) >= dropEvery {
		s.written.Store(0)
		s.dropMapped()
	}
}

// u64 is a bbolt key: big-endian, so keys sort in numeric order.
func u64(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// openStore opens (creating it if needed) the store in dir and checks that
// it was made for target and the reference genesis block. With readOnly
// the file must exist, nothing is written and target is not checked (the
// zero target is ignored); the store's own bits are returned either way.
func openStore(dir string, target hasher.Target, batchDelay time.Duration, readOnly bool) (*store, int, error) {
	path := filepath.Join(dir, StoreFile)
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, 0, fmt.Errorf("%w: %s does not exist", ErrNoStore, path)
			}
			return nil, 0, fmt.Errorf("node: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("node: creating the data dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly, InitialMmapSize: mmapSize})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, 0, fmt.Errorf("%w: %s is locked", ErrDataDirLocked, path)
		}
		return nil, 0, fmt.Errorf("node: opening %s: %w", path, err)
	}
	if batchDelay > 0 {
		db.MaxBatchDelay = batchDelay
	}
	s := &store{db: db, path: path}
	var bits int
	if readOnly {
		err = db.View(func(tx *bolt.Tx) error {
			var err error
			if bits, err = s.checkMeta(tx, nil); err == nil && switchPendingTx(tx) {
				err = fmt.Errorf("node: %s: %w", path, errSwitchPending)
			}
			return err
		})
	} else {
		err = db.Update(func(tx *bolt.Tx) error {
			if tx.Bucket(bucketMeta) == nil {
				bits = target.Bits()
				return s.initialize(tx, target)
			}
			var err error
			bits, err = s.checkMeta(tx, &target)
			if err != nil {
				return err
			}
			// Buckets added by later versions of the same format.
			for _, name := range [][]byte{bucketPending, bucketPeers} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			err = s.recoverSwitch()
		}
	}
	if err != nil {
		db.Close()
		return nil, 0, err
	}
	return s, bits, nil
}

// initialize writes the meta bucket and the genesis block of a new store.
func (s *store) initialize(tx *bolt.Tx, target hasher.Target) error {
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	g := engine.Genesis()
	wire, err := g.MarshalWire()
	if err != nil {
		return err
	}
	gh, err := hashBytes(g.Hash)
	if err != nil {
		return err
	}
	for k, v := range map[string]string{
		string(keyFormat):  storeFormat,
		string(keyBits):    strconv.Itoa(target.Bits()),
		string(keyGenesis): g.Hash,
		string(keyCreated): time.Now().UTC().Format(time.RFC3339),
	} {
		if err := meta.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	blocks, err := tx.CreateBucket(bucketBlocks)
	if err != nil {
		return err
	}
	if err := blocks.Put(u64(0), wire); err != nil {
		return err
	}
	hashes, err := tx.CreateBucket(bucketHashes)
	if err != nil {
		return err
	}
	if err := hashes.Put(u64(0), gh[:]); err != nil {
		return err
	}
	sum, err := extendSum(nil, [][32]byte{gh})
	if err != nil {
		return err
	}
	if err := meta.Put(keyLength, u64(1)); err != nil {
		return err
	}
	if err := meta.Put(keySum, sum); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketPending, bucketPeers} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	return nil
}

// checkMeta checks the store's format and genesis, and its difficulty
// against want when want is not nil. It returns the store's bits.
func (s *store) checkMeta(tx *bolt.Tx, want *hasher.Target) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, fmt.Errorf("%w: %s has no meta bucket (not a powchain node store)", ErrDataDirMismatch, s.path)
	}
	if f := string(meta.Get(keyFormat)); f != storeFormat {
		return 0, fmt.Errorf("%w: %s has store format %q, this powchain reads %q (export it with the powchain that made it and import the dump)", ErrDataDirMismatch, s.path, f, storeFormat)
	}
	bits, err := strconv.Atoi(string(meta.Get(keyBits)))
	if err != nil {
		return 0, fmt.Errorf("%w: %s: meta %q is %q: %v", ErrDataDirMismatch, s.path, keyBits, meta.Get(keyBits), err)
	}
	if want != nil && bits != want.Bits() {
		have, _ := hasher.TargetBits(bits)
		return 0, fmt.Errorf("%w: %s holds a chain mined at difficulty %v (%d bits), but the node was asked to run at %v (%d bits); run it with the same difficulty or use another data dir",
			ErrDataDirMismatch, s.path, have, bits, *want, want.Bits())
	}
	g := engine.Genesis()
	if h := string(meta.Get(keyGenesis)); h != g.Hash {
		return 0, fmt.Errorf("%w: %s starts from genesis block %q, not the reference genesis %s; use another data dir",
			ErrDataDirMismatch, s.path, h, g.Hash)
	}
	blocks := tx.Bucket(bucketBlocks)
	if blocks == nil || tx.Bucket(bucketHashes) == nil {
		return 0, fmt.Errorf("%w: %s has no blocks or hashes bucket", ErrDataDirMismatch, s.path)
	}
	if first := blocks.Get(u64(0)); first != nil {
		b, err := engine.DecodeBlock(first, engine.BlockOptions{})
		if err != nil || b.Hash != g.Hash {
			return 0, fmt.Errorf("%w: %s: its block 0 is not the reference genesis block", ErrDataDirMismatch, s.path)
		}
	}
	return bits, nil
}

// close closes the bbolt file.
func (s *store) close() error { return s.db.Close() }

// hashBytes decodes a block's hex hash.
func hashBytes(h string) ([32]byte, error) {
	var d [32]byte
	if len(h) != 64 {
		return d, fmt.Errorf("hash %q is not 64 hex digits", h)
	}
	_, err := hex.Decode(d[:], []byte(h))
	return d, err
}

// extendSum returns the checksum state after hashes are added to the
// state prev (nil: the empty chain). The checksum is SHA-256 over the
// 32-byte hashes of the chain's blocks in order; its state is what the
// meta bucket keeps, so that an append extends it in O(1).
func extendSum(prev []byte, hashes [][32]byte) ([]byte, error) {
	h := sha256.New()
	if prev != nil {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(prev); err != nil {
			return nil, err
		}
	}
	for i := range hashes {
		h.Write(hashes[i][:])
	}
	return h.(encoding.BinaryMarshaler).MarshalBinary()
}

// pendingRecord is one record of the pending bucket.
type pendingRecord struct {
	seq   uint64
	canon string
}

// storeContents is what Open reads from a store: the chain index, the
// last block, the pending transactions and the peers.
type storeContents struct {
	index   hashIndex
	sum     []byte
	tip     *block
	pending []pendingRecord
	peers   []string
}

// load reads the chain index, checks it against the stored checksum and
// reads the last block. With revalidate it also reads every block and
// validates the whole chain against target.
func (s *store) load(target hasher.Target, revalidate bool) (*storeContents, error) {
	c := &storeContents{}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, s.path, fmt.Sprintf(format, args...))
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		lk := meta.Get(keyLength)
		if len(lk) != 8 {
			return corrupt("meta %q is %x", keyLength, lk)
		}
		length := binary.BigEndian.Uint64(lk)
		var idx hashIndex
		sumh := sha256.New()
		cur := tx.Bucket(bucketHashes).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			h := uint64(idx.len())
			if len(k) != 8 || binary.BigEndian.Uint64(k) != h || len(v) != 32 {
				return corrupt("the hashes bucket has key %x (value of %d bytes) where height %d was expected", k, len(v), h)
			}
			idx = idx.appended([32]byte(v))
			sumh.Write(v)
		}
		if uint64(idx.len()) != length || length == 0 {
			return corrupt("the index holds %d hashes, the meta bucket says the chain has %d blocks", idx.len(), length)
		}
		sum, err := sumh.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return err
		}
		if !bytes.Equal(sum, meta.Get(keySum)) {
			return corrupt("the chain index does not match its checksum")
		}
		c.sum, c.index = sum, idx
		tip, err := s.blockTx(tx, int(length)-1)
		if err != nil {
			return corrupt("%v", err)
		}
		if idx.at(int(length)-1) != tip.hashBytes() || tip.ComputeHash() != tip.Hash {
			return corrupt("the last block (height %d) does not hash to the index's hash", length-1)
		}
		c.tip = tip
		if revalidate {
			if err := s.revalidate(tx, idx, target); err != nil {
				return err
			}
		}
		cur = tx.Bucket(bucketPending).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if len(k) != 8 {
				return corrupt("pending bucket has key %x", k)
			}
			c.pending = append(c.pending, pendingRecord{seq: binary.BigEndian.Uint64(k), canon: string(v)})
		}
		return tx.Bucket(bucketPeers).ForEach(func(k, _ []byte) error {
			c.peers = append(c.peers, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// revalidate decodes every block and validates the chain, one block after
// the other, and checks each against the index.
func (s *store) revalidate(tx *bolt.Tx, idx hashIndex, target hasher.Target) error {
	var prev *engine.Block
	cur := tx.Bucket(bucketBlocks).Cursor()
	h := 0
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if len(k) != 8 || binary.BigEndian.Uint64(k) != uint64(h) || h >= idx.len() {
			return fmt.Errorf("%w: %s: blocks bucket has key %x where height %d was expected", ErrCorrupt, s.path, k, h)
		}
		b, err := engine.DecodeBlock(v, engine.BlockOptions{})
		if err != nil {
			return fmt.Errorf("%w: %s: block at height %d: %v", ErrCorrupt, s.path, h, err)
		}
		if h == 0 {
			err = engine.ValidateChain([]*engine.Block{b}, target)
		} else {
			err = engine.ValidateNext(prev, h, b, target)
		}
		if err != nil {
			return fmt.Errorf("node: store %s holds an invalid chain: %w", s.path, err)
		}
		if bh, _ := hashBytes(b.Hash); bh != idx.at(h) {
			return fmt.Errorf("%w: %s: block %d has hash %s, the index another", ErrCorrupt, s.path, h, b.Hash)
		}
		prev = b
		h++
	}
	if h != idx.len() {
		return fmt.Errorf("%w: %s: %d blocks for an index of %d", ErrCorrupt, s.path, h, idx.len())
	}
	return nil
}

// blockTx reads and decodes the block at height h.
func (s *store) blockTx(tx *bolt.Tx, h int) (*block, error) {
	v := tx.Bucket(bucketBlocks).Get(u64(uint64(h)))
	if v == nil {
		return nil, fmt.Errorf("no block at height %d", h)
	}
	b, err := engine.DecodeBlock(v, engine.BlockOptions{})
	if err != nil {
		return nil, fmt.Errorf("block at height %d: %w", h, err)
	}
	return &block{Block: b, wire: bytes.Clone(v)}, nil
}

// blocks reads the blocks at heights [from, to) of the chain (chainView);
// a negative to stands for the chain's length.
func (s *store) blocks(from, to int) ([]*block, error) {
	out := make([]*block, 0, max(0, to-from))
	err := s.db.View(func(tx *bolt.Tx) error {
		cv, err := s.chainView(tx)
		if err != nil {
			return err
		}
		if to < 0 {
			to = cv.length
		}
		if to > cv.length {
			return fmt.Errorf("no block at height %d: the chain has %d", to-1, cv.length)
		}
		return cv.each(from, to, func(h int, v []byte) error {
			b, err := engine.DecodeBlock(v, engine.BlockOptions{})
			if err != nil {
				return fmt.Errorf("block at height %d: %w", h, err)
			}
			out = append(out, &block{Block: b, wire: bytes.Clone(v)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("node: reading blocks: %w", err)
	}
	return out, nil
}

// lengthTx returns the chain length the meta bucket records.
func lengthTx(tx *bolt.Tx) int {
	lk := tx.Bucket(bucketMeta).Get(keyLength)
	if len(lk) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(lk))
}

// chainView is the chain as one read transaction of the store holds it.
// Outside a chain switch that is the blocks bucket up to the meta length.
// From a switch's commit point (its marker) to its end it is the new
// chain: the marker's length, the blocks still staged from height split
// on, and below split the blocks bucket, which holds the moved ones from
// the fork to split. A move transaction takes the lowest staged blocks
// out of the staging bucket and puts them into the blocks bucket, so the
// staging bucket always holds the last part of the new chain, and one
// read transaction finds each height in exactly one place.
type chainView struct {
	tx     *bolt.Tx
	length int
	split  int // heights from split on are staged (value: 32-byte hash, then the block)
}

// chainView returns the chain tx holds.
func (s *store) chainView(tx *bolt.Tx) (*chainView, error) {
	v := tx.Bucket(bucketMeta).Get(keySwitch)
	if v == nil {
		n := lengthTx(tx)
		return &chainView{tx: tx, length: n, split: n}, nil
	}
	m, err := decodeSwitchMarker(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, s.path, err)
	}
	cv := &chainView{tx: tx, length: m.length, split: m.length}
	if st := tx.Bucket(bucketStaging); st != nil {
		if k, _ := st.Cursor().First(); len(k) == 8 {
			cv.split = int(binary.BigEndian.Uint64(k))
		}
	}
	if cv.split < m.fork || cv.split > m.length {
		return nil, fmt.Errorf("%w: %s: the first staged block is at height %d, outside the switch's [%d, %d]", ErrCorrupt, s.path, cv.split, m.fork, m.length)
	}
	return cv, nil
}

// each calls f with the height and wire JSON of each block at heights
// [from, to) (to at most the length), in order; an error of f stops it
// and is returned. v is valid during the transaction only.
func (cv *chainView) each(from, to int, f func(h int, v []byte) error) error {
	h := max(from, 0)
	for _, part := range []struct {
		bucket []byte
		end    int
		skip   int
	}{{bucketBlocks, cv.split, 0}, {bucketStaging, cv.length, 32}} {
		end := min(to, part.end)
		if h >= end {
			continue
		}
		c := cv.tx.Bucket(part.bucket).Cursor()
		for k, v := c.Seek(u64(uint64(h))); h < end; k, v = c.Next() {
			if len(k) != 8 || binary.BigEndian.Uint64(k) != uint64(h) || len(v) <= part.skip {
				return fmt.Errorf("%w: the %s bucket has no block at height %d", ErrCorrupt, part.bucket, h)
			}
			if err := f(h, v[part.skip:]); err != nil {
				return err
			}
			h++
		}
	}
	return nil
}

// writeDump streams the chain dump (the GET /chain answer) of the chain
// tx holds (chainView): the blocks' wire JSON as stored, never decoded
// nor encoded again, through a buffer of 64 KiB, so the memory it takes
// does not grow with the chain.
func (s *store) writeDump(tx *bolt.Tx, w io.Writer, peers []string) error {
	cv, err := s.chainView(tx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(engine.AppendDumpHead(nil, cv.length))
	pd := newPageDropper(s.db, tx)
	err = cv.each(0, cv.length, func(h int, v []byte) error {
		if h > 0 {
			bw.WriteString(engine.DumpSeparator)
		}
		if _, err := bw.Write(v); err != nil {
			return err
		}
		pd.add(v)
		return nil
	})
	pd.drop()
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	if _, err := bw.Write(engine.AppendDumpTail(nil, peers)); err != nil {
		return err
	}
	return bw.Flush()
}

// errPageFull stops writePage at its byte limit.
var errPageFull = errors.New("the page is full")

// writePage streams {"length": N, "blocks": [...]} of the chain tx holds
// (chainView): the blocks from height from on, at most limit of them and,
// past the first, no more than maxBytes of them.
func (s *store) writePage(tx *bolt.Tx, w io.Writer, from, limit int, maxBytes int) error {
	cv, err := s.chainView(tx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"length": ` + strconv.Itoa(cv.length) + `, "blocks": [`)
	size := 0
	err = cv.each(from, min(cv.length, from+limit), func(h int, v []byte) error {
		if h > from {
			if size+len(v) > maxBytes {
				return errPageFull
			}
			bw.WriteString(", ")
		}
		if _, err := bw.Write(v); err != nil {
			return err
		}
		size += len(v)
		return nil
	})
	if err != nil && err != errPageFull {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	if _, err := bw.WriteString("]}"); err != nil {
		return err
	}
	return bw.Flush()
}

// addPending stores one transaction's canonical JSON in the pending bucket
// and returns its key. It goes through bbolt's DB.Batch, so concurrent
// calls share one transaction and one fsync; it returns once the record is
// on disk.
func (s *store) addPending(canon []byte) (uint64, error) {
	var seq uint64
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPending)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		seq = n
		return b.Put(u64(n), canon)
	})
	if err != nil {
		return 0, fmt.Errorf("node: storing a transaction: %w", err)
	}
	s.wrote(len(canon))
	return seq, nil
}

// change is one change of the chain, written in one bbolt transaction:
// the blocks from height fork on are replaced by added, the chain length
// and checksum become length and sum, the pending records drop are deleted
// and the transactions in restore are added to the pending pool. A change
// with a nil sum leaves the chain alone and changes only the pool.
type change struct {
	oldLen  int
	fork    int
	added   []*block
	length  int
	sum     []byte
	drop    []uint64
	restore [][]byte
}

// commit writes c in one transaction (one fsync) and returns the keys
// given to the restored transactions. Blocks and hashes are appended with
// bbolt's FillPercent at 1: pages are filled, not split in half, since
// keys only ever grow at the end.
func (s *store) commit(c *change) ([]uint64, error) {
	var seqs []uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		seqs = seqs[:0]
		blocks, hashes := tx.Bucket(bucketBlocks), tx.Bucket(bucketHashes)
		blocks.FillPercent, hashes.FillPercent = 1, 1
		for h := c.fork; h < c.oldLen; h++ {
			if err := blocks.Delete(u64(uint64(h))); err != nil {
				return err
			}
			if err := hashes.Delete(u64(uint64(h))); err != nil {
				return err
			}
		}
		for i, b := range c.added {
			k := u64(uint64(c.fork + i))
			if err := blocks.Put(k, b.wire); err != nil {
				return err
			}
			hb := b.hashBytes()
			if err := hashes.Put(k, hb[:]); err != nil {
				return err
			}
		}
		if c.sum != nil { // the chain changed
			meta := tx.Bucket(bucketMeta)
			if err := meta.Put(keyLength, u64(uint64(c.length))); err != nil {
				return err
			}
			if err := meta.Put(keySum, c.sum); err != nil {
				return err
			}
		}
		pending := tx.Bucket(bucketPending)
		for _, seq := range c.drop {
			if err := pending.Delete(u64(seq)); err != nil {
				return err
			}
		}
		for _, canon := range c.restore {
			n, err := pending.NextSequence()
			if err != nil {
				return err
			}
			if err := pending.Put(u64(n), canon); err != nil {
				return err
			}
			seqs = append(seqs, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node: writing a chain change: %w", err)
	}
	n := 0
	for _, b := range c.added {
		n += len(b.wire) + 32
	}
	for _, r := range c.restore {
		n += len(r)
	}
	s.wrote(n)
	return seqs, nil
}

// addPeers stores peer URLs, each with the time it was added.
func (s *store) addPeers(urls []string) error {
	if len(urls) == 0 {
		return nil
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		added := []byte(time.Now().UTC().Format(time.RFC3339))
		for _, u := range urls {
			if err := b.Put([]byte(u), added); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("node: storing peers: %w", err)
	}
	return nil
}

// removePeer deletes a peer URL.
func (s *store) removePeer(u string) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPeers).Delete([]byte(u)) })
	if err != nil {
		return fmt.Errorf("node: removing a peer: %w", err)
	}
	return nil
}
