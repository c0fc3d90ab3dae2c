package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// StoreFile is the name of the bbolt file inside a data directory.
const StoreFile = "powchain.db"

// storeFormat is written once into the meta bucket; a store of another
// format is refused.
const storeFormat = "powchain-node/1"

var (
	bucketMeta    = []byte("meta")
	bucketBlocks  = []byte("blocks")
	bucketPending = []byte("pending")
	bucketPeers   = []byte("peers")

	keyFormat  = []byte("format")
	keyBits    = []byte("bits")
	keyGenesis = []byte("genesis")
	keyCreated = []byte("created")
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

// lockTimeout is how long Open waits for another process's lock on the
// store before it gives up with ErrDataDirLocked.
var lockTimeout = time.Second

// store is the durable state in a data directory: one bbolt file with the
// blocks, the pending transactions and the peers (see doc.go, Storage).
type store struct {
	db   *bolt.DB
	path string
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
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
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
			bits, err = s.checkMeta(tx, nil)
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
			for _, name := range [][]byte{bucketBlocks, bucketPending, bucketPeers} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		})
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
		return 0, fmt.Errorf("%w: %s has store format %q, this powchain reads %q", ErrDataDirMismatch, s.path, f, storeFormat)
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
	if blocks == nil {
		return 0, fmt.Errorf("%w: %s has no blocks bucket", ErrDataDirMismatch, s.path)
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

// pendingRecord is one record of the pending bucket.
type pendingRecord struct {
	seq   uint64
	canon []byte
}

// storeContents is everything a store holds, as read at start.
type storeContents struct {
	blocks  []*block
	pending []pendingRecord
	peers   []string
}

// load reads the whole store and checks the chain against target.
func (s *store) load(target hasher.Target) (*storeContents, error) {
	c := &storeContents{}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		cur := tx.Bucket(bucketBlocks).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			h := uint64(len(c.blocks))
			if len(k) != 8 || binary.BigEndian.Uint64(k) != h {
				return fmt.Errorf("node: store %s is corrupt: blocks bucket has key %x where height %d was expected", s.path, k, h)
			}
			b, err := engine.DecodeBlock(v, engine.BlockOptions{})
			if err != nil {
				return fmt.Errorf("node: store %s is corrupt: block at height %d: %w", s.path, h, err)
			}
			c.blocks = append(c.blocks, &block{Block: b, wire: append([]byte(nil), v...)})
		}
		cur = tx.Bucket(bucketPending).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if len(k) != 8 {
				return fmt.Errorf("node: store %s is corrupt: pending bucket has key %x", s.path, k)
			}
			c.pending = append(c.pending, pendingRecord{seq: binary.BigEndian.Uint64(k), canon: append([]byte(nil), v...)})
		}
		err = tx.Bucket(bucketPeers).ForEach(func(k, _ []byte) error {
			c.peers = append(c.peers, string(k))
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	bs := make([]*engine.Block, len(c.blocks))
	for i, b := range c.blocks {
		bs[i] = b.Block
	}
	if err := engine.ValidateChain(bs, target); err != nil {
		return nil, fmt.Errorf("node: store %s holds an invalid chain: %w", s.path, err)
	}
	return c, nil
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
	return seq, nil
}

// change is one change of the chain, written in one bbolt transaction:
// the blocks from height fork on are replaced by added, the pending records
// drop are deleted and the transactions in restore are added to the
// pending pool.
type change struct {
	oldLen  int
	fork    int
	added   []*block
	drop    []uint64
	restore [][]byte
}

// commit writes c in one transaction (one fsync) and returns the keys
// given to the restored transactions.
func (s *store) commit(c *change) ([]uint64, error) {
	var seqs []uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		seqs = seqs[:0]
		blocks := tx.Bucket(bucketBlocks)
		for h := c.fork; h < c.oldLen; h++ {
			if err := blocks.Delete(u64(uint64(h))); err != nil {
				return err
			}
		}
		for i, b := range c.added {
			if err := blocks.Put(u64(uint64(c.fork+i)), b.wire); err != nil {
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
