package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// taggedChain mines n blocks after base[len(base)-1], block i with the
// transaction of content tag+i and any extra transactions extra[i] gives,
// and returns base followed by them.
func taggedChain(t *testing.T, base []*engine.Block, n int, tag string, extra map[int][]pyjson.Value) []*engine.Block {
	t.Helper()
	out := append([]*engine.Block(nil), base...)
	for i := 0; i < n; i++ {
		txs := append([]pyjson.Value{tx("x", tag+strconv.Itoa(i))}, extra[i]...)
		out = append(out, mineOn(t, out[len(out)-1], target2(t), txs...))
	}
	return out
}

// importDump runs ImportFrom on the dump of blocks.
func importDump(t *testing.T, n *Node, blocks []*engine.Block) (*ImportResult, error) {
	t.Helper()
	dump, err := engine.EncodeDump(blocks, nil)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := ScanDump(context.Background(), bytes.NewReader(dump), n.target, nil)
	if err != nil || scan.Invalid != nil {
		t.Fatalf("ScanDump: %v %v", err, scan.Invalid)
	}
	return n.ImportFrom(context.Background(), scan, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(dump)), nil
	})
}

// wantChain fails unless n holds exactly the chain want.
func wantChain(t *testing.T, what string, n *Node, want []*engine.Block) {
	t.Helper()
	got := n.Blocks()
	if len(got) != len(want) {
		t.Fatalf("%s: the node holds %d blocks, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Hash != want[i].Hash {
			t.Fatalf("%s: block %d is %s, want %s", what, i, got[i].Hash, want[i].Hash)
		}
	}
}

// noStaging fails if the store in n still has a staging bucket or marker.
func noStaging(t *testing.T, what string, n *Node) {
	t.Helper()
	n.store.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketStaging) != nil || switchPendingTx(tx) {
			t.Errorf("%s: the store still holds a staging bucket or a switch marker", what)
		}
		return nil
	})
}

// TestImportForkPool: an import that forks from the node's chain, staged
// in many batches, replaces the blocks after the fork; the transactions
// of the replaced blocks return to the pool unless the new blocks hold
// them, the pending transactions the new blocks hold leave it, and a
// restart finds the same chain and pool, with nothing staged left.
func TestImportForkPool(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	importBatch = 1 << 10 // a few blocks a batch
	n := openTest(t, testConfig(t, ""))
	cleared, err := n.AddTransaction(pyjson.Object{"author": "x", "content": "pending, in the dump"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddTransaction(pyjson.Object{"author": "x", "content": "pending"}); err != nil {
		t.Fatal(err)
	}
	both := tx("x", "in both forks")
	base := taggedChain(t, []*engine.Block{engine.Genesis()}, 5, "base", nil)
	ours := taggedChain(t, base, 7, "ours", map[int][]pyjson.Value{3: {both}})
	theirs := taggedChain(t, base, 12, "theirs", map[int][]pyjson.Value{2: {both}, 9: {cleared}})
	if _, err := n.Import(&engine.Dump{Blocks: ours}); err != nil {
		t.Fatal(err)
	}
	res, err := importDump(t, n, theirs)
	if err != nil || !res.Replaced {
		t.Fatalf("ImportFrom: %+v, %v", res, err)
	}
	wantChain(t, "after the import", n, theirs)
	var wantPool []string
	for i := range 7 {
		wantPool = append(wantPool, "ours"+strconv.Itoa(i))
	}
	wantPool = append(wantPool, "pending")
	if got := pendingContents(n); !sameStrings(got, wantPool) {
		t.Fatalf("the pool holds %q, want %q", got, wantPool)
	}
	noStaging(t, "after the import", n)
	n.Close()
	n2 := openTest(t, Config{DataDir: n.cfg.DataDir, Target: n.target, Logger: testLogger(t), Revalidate: true})
	defer n2.Close()
	wantChain(t, "after a restart", n2, theirs)
	if got := pendingContents(n2); !sameStrings(got, wantPool) {
		t.Fatalf("after a restart the pool holds %q, want %q", got, wantPool)
	}
}

// TestSwitchInterrupted stops a chain switch at each of its steps, as a
// crash would, and opens the store again: before the commit point the
// old chain is there, from it on the new one, whole and valid, and the
// replaced blocks' transactions pending; nothing staged is left either
// way. (The crash of a real
// process is cmd/powchain's TestImportForkCrash.)
func TestSwitchInterrupted(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	defer func() { switchMoved = nil }()
	importBatch = 1 << 10
	base := taggedChain(t, []*engine.Block{engine.Genesis()}, 4, "base", nil)
	ours := taggedChain(t, base, 6, "ours", nil)
	theirs := taggedChain(t, base, 14, "theirs", nil)
	errCrash := errors.New("crash")
	for _, c := range []struct {
		name    string
		crashAt string // "staged": before the commit point; "committed": after it
		after   int    // move transactions of crashAt ("blocks", "pool") before the crash
	}{{"staged", "staged", 0}, {"committed", "committed", 0}, {"half moved", "blocks", 2}, {"blocks moved", "pool", 1}} {
		n := openTest(t, testConfig(t, ""))
		if _, err := n.Import(&engine.Dump{Blocks: ours}); err != nil {
			t.Fatal(err)
		}
		st, err := n.newForkStage(n.index, len(base))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range theirs[len(base):] {
			nb, err := newBlock(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.add(nb); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.flush(); err != nil {
			t.Fatal(err)
		}
		want := ours
		if c.crashAt != "staged" {
			want = theirs
			pc, err := n.forkPoolChanges(st.fork, len(ours), len(theirs))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.store.beginSwitch(&switchMarker{fork: st.fork, length: st.idx.len(), sum: st.sum}, pc.drop); err != nil {
				t.Fatal(err)
			}
		}
		if c.crashAt == "blocks" || c.crashAt == "pool" {
			moved := 0
			switchMoved = func(what string) error {
				if what == c.crashAt {
					if moved++; moved >= c.after {
						return errCrash
					}
				}
				return nil
			}
			if err := n.store.finishSwitch(nil); !errors.Is(err, errCrash) {
				t.Fatalf("%s: finishSwitch: %v, want the crash", c.name, err)
			}
			switchMoved = nil
		}
		n.Close() // the stage is never ended: the process died
		if err := ExportTo(n.cfg.DataDir, io.Discard, false); c.crashAt != "staged" && !errors.Is(err, errSwitchPending) {
			t.Fatalf("%s: export in the middle of a switch: %v, want it refused", c.name, err)
		}
		n2 := openTest(t, Config{DataDir: n.cfg.DataDir, Target: n.target, Logger: testLogger(t), Revalidate: true})
		wantChain(t, c.name, n2, want)
		noStaging(t, c.name, n2)
		var wantPool []string // the replaced blocks' transactions
		if c.crashAt != "staged" {
			wantPool = contents(ours[len(base):])
		}
		if got := pendingContents(n2); !sameStrings(got, wantPool) {
			t.Fatalf("%s: the pool holds %q, want %q", c.name, got, wantPool)
		}
		n2.Close()
		if err := ExportTo(n.cfg.DataDir, io.Discard, true); err != nil {
			t.Fatalf("%s: export after the restart: %v", c.name, err)
		}
	}
}
