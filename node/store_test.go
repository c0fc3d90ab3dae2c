package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

func TestRestartKeepsEverything(t *testing.T) {
	cfg := testConfig(t, "")
	n := openTest(t, cfg)
	n.AddTransaction(pyjson.Object{"author": "a", "content": "mined"})
	if _, err := n.Mine(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.AddTransaction(pyjson.Object{"author": "a", "content": "pending 1"})
	n.AddTransaction(pyjson.Object{"author": "a", "content": "pending 2", "n": pyjson.Float(0.1)})
	if _, err := n.AddPeers("http://127.0.0.1:9/", "https://Example.COM:443"); err != nil {
		t.Fatal(err)
	}
	chain, pending, peers := string(n.ChainJSON()), fmt.Sprint(n.Pending()), n.Peers()
	n.Close()

	n2 := openTest(t, cfg)
	if string(n2.ChainJSON()) != chain || fmt.Sprint(n2.Pending()) != pending || fmt.Sprint(n2.Peers()) != fmt.Sprint(peers) {
		t.Fatalf("after a restart:\nchain %s\npending %v\npeers %v\nwant\n%s\n%s\n%v", n2.ChainJSON(), n2.Pending(), n2.Peers(), chain, pending, peers)
	}
	if want := "[http://127.0.0.1:9/ https://example.com/]"; fmt.Sprint(peers) != want {
		t.Fatalf("peers %v, want %s", peers, want)
	}
}

func TestOpenRefusesAnotherChain(t *testing.T) {
	dir := t.TempDir()
	n := openTest(t, testConfig(t, dir))
	n.Close()

	// Another difficulty.
	cfg := testConfig(t, dir)
	cfg.Target, _ = engine.Difficulty(3)
	_, err := Open(cfg)
	if !errors.Is(err, ErrDataDirMismatch) || !strings.Contains(err.Error(), "2 hex zeros") || !strings.Contains(err.Error(), "3 hex zeros") {
		t.Fatalf("opening at difficulty 3 a store made at 2: %v", err)
	}

	// Another genesis block.
	db, err := bolt.Open(dir+"/"+StoreFile, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := engine.Genesis()
	g.Timestamp = pyjson.Float(1576665446.403836) // the tutorial's time.time() genesis
	g.Hash = g.ComputeHash()
	w, _ := g.MarshalWire()
	db.Update(func(tx *bolt.Tx) error {
		tx.Bucket(bucketMeta).Put(keyGenesis, []byte(g.Hash))
		return tx.Bucket(bucketBlocks).Put(u64(0), w)
	})
	db.Close()
	_, err = Open(testConfig(t, dir))
	if !errors.Is(err, ErrDataDirMismatch) || !strings.Contains(err.Error(), "genesis") {
		t.Fatalf("opening a store with another genesis: %v", err)
	}
}

// shortLockTimeout makes a test wait less for a locked store.
func shortLockTimeout(t *testing.T) {
	old := lockTimeout
	lockTimeout = 50 * time.Millisecond
	t.Cleanup(func() { lockTimeout = old })
}

func TestOpenRefusesALockedStore(t *testing.T) {
	shortLockTimeout(t)
	cfg := testConfig(t, "")
	openTest(t, cfg)
	if _, err := Open(cfg); !errors.Is(err, ErrDataDirLocked) {
		t.Fatalf("second Open: %v, want ErrDataDirLocked", err)
	}
}

// TestOpenRefusesACorruptChain tampers with a closed store: a changed
// last block or a changed index is refused at every Open (the checksum and
// the tip are checked); a changed block below the tip is found by
// Config.Revalidate, naming the block and the rule.
func TestOpenRefusesACorruptChain(t *testing.T) {
	tamper := func(t *testing.T, dir string, f func(tx *bolt.Tx) error) {
		t.Helper()
		db, err := bolt.Open(dir+"/"+StoreFile, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(f); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	content := func(h uint64) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketBlocks)
			v := strings.Replace(string(b.Get(u64(h))), `"c"`, `"C"`, 1)
			return b.Put(u64(h), []byte(v))
		}
	}
	setup := func(t *testing.T, blocks int) Config {
		cfg := testConfig(t, "")
		n := openTest(t, cfg)
		for range blocks {
			n.AddTransaction(pyjson.Object{"author": "a", "content": "c"})
			n.Mine(context.Background())
		}
		n.Close()
		return cfg
	}
	t.Run("tip", func(t *testing.T) {
		cfg := setup(t, 1)
		tamper(t, cfg.DataDir, content(1))
		if _, err := Open(cfg); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("opening a store with a tampered last block: %v, want ErrCorrupt", err)
		}
	})
	t.Run("index", func(t *testing.T) {
		cfg := setup(t, 2)
		tamper(t, cfg.DataDir, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketHashes).Put(u64(1), make([]byte, 32))
		})
		if _, err := Open(cfg); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("opening a store with a tampered index: %v, want ErrCorrupt", err)
		}
	})
	t.Run("revalidate", func(t *testing.T) {
		cfg := setup(t, 2)
		tamper(t, cfg.DataDir, content(1))
		cfg.Revalidate = true
		_, err := Open(cfg)
		var re *engine.RuleError
		if !errors.As(err, &re) || re.Rule != engine.RuleHash || re.Position != 1 {
			t.Fatalf("opening a tampered store with Revalidate: %v", err)
		}
	})
}

// TestGroupCommit checks that concurrent transactions share bbolt
// transactions (and so fsyncs): the store's transaction id, which every
// write transaction bumps, grows far less than the number of writes.
func TestGroupCommit(t *testing.T) {
	n := openTest(t, testConfig(t, ""))
	txid := func() int {
		var id int
		n.store.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	before := txid()
	const writers = 200
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := n.AddTransaction(pyjson.Object{"author": "a", "content": fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	commits := txid() - before
	t.Logf("%d concurrent transactions in %d commits", writers, commits)
	if commits > writers/4 {
		t.Fatalf("%d transactions took %d commits: no group commit", writers, commits)
	}
	if len(n.Pending()) != writers {
		t.Fatalf("%d pending, want %d", len(n.Pending()), writers)
	}
}

func TestExport(t *testing.T) {
	shortLockTimeout(t)
	cfg := testConfig(t, "")
	n := openTest(t, cfg)
	n.AddTransaction(pyjson.Object{"author": "a", "content": "c"})
	n.Mine(context.Background())
	n.AddPeers("http://127.0.0.1:9")
	want := string(n.ChainJSON())
	if _, err := Export(cfg.DataDir); !errors.Is(err, ErrDataDirLocked) {
		t.Fatalf("Export of an open store: %v, want ErrDataDirLocked", err)
	}
	n.Close()
	got, err := Export(cfg.DataDir)
	if err != nil || string(got) != want {
		t.Fatalf("Export: %v\n%s\nwant\n%s", err, got, want)
	}
	if _, err := Export(t.TempDir()); !errors.Is(err, ErrNoStore) {
		t.Fatalf("Export of an empty dir: %v", err)
	}
}
