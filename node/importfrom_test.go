package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/powchain/powchain/engine"
)

// minedChain mines n blocks after base[len(base)-1], each with one
// transaction tagged tag, and returns base followed by them.
func minedChain(t *testing.T, base []*engine.Block, n int, tag string) []*engine.Block {
	t.Helper()
	out := append([]*engine.Block(nil), base...)
	for i := 0; i < n; i++ {
		out = append(out, mineOn(t, out[len(out)-1], target2(t), tx(tag, strconv.Itoa(i))))
	}
	return out
}

// TestImportFrom: ImportFrom, which reads a dump as a stream, ends where
// Import ends: a dump that continues the node's chain is appended (in
// several batches here), one that forks from it replaces the blocks from
// the fork on, one that is not longer changes nothing and is ErrNotLonger
// unless it is a prefix; the dump's peers are added either way.
func TestImportFrom(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	importBatch = 2 << 10 // a few blocks a batch
	a := minedChain(t, []*engine.Block{engine.Genesis()}, 24, "a")
	b := minedChain(t, a[:6], 8, "b") // forks from a at 6, 14 blocks
	for _, c := range []struct {
		name         string
		ours, dump   []*engine.Block
		want         []*engine.Block
		replaced     bool
		errNotLonger bool
	}{
		{"fresh store", a[:1], a, a, true, false},
		{"continues ours", a[:10], a, a, true, false},
		{"forks from ours", b, a, a, true, false},
		{"a prefix of ours", a, a[:10], a, false, false},
		{"ours", a, a, a, false, false},
		{"shorter, differs", b, a[:8], b, false, true},
		{"not longer, differs", a[:14], b, a[:14], false, true},
	} {
		n := openTest(t, testConfig(t, ""))
		if len(c.ours) > 1 {
			if _, err := n.Import(&engine.Dump{Blocks: c.ours}); err != nil {
				t.Fatalf("%s: setting up our chain: %v", c.name, err)
			}
		}
		dump, err := engine.EncodeDump(c.dump, []string{"http://127.0.0.1:9"})
		if err != nil {
			t.Fatal(err)
		}
		scan, err := ScanDump(context.Background(), bytes.NewReader(dump), n.target, nil)
		if err != nil || scan.Invalid != nil {
			t.Fatalf("%s: ScanDump: %v %v", c.name, err, scan.Invalid)
		}
		opened := 0
		res, err := n.ImportFrom(context.Background(), scan, func() (io.ReadCloser, error) {
			opened++
			return io.NopCloser(bytes.NewReader(dump)), nil
		})
		if c.errNotLonger {
			if !errors.Is(err, ErrNotLonger) {
				t.Errorf("%s: %v, want ErrNotLonger", c.name, err)
			}
		} else if err != nil || res.Replaced != c.replaced || res.Length != len(c.dump) || len(res.NewPeers) != 1 {
			t.Errorf("%s: %+v %v, want replaced %v, %d blocks, one new peer", c.name, res, err, c.replaced, len(c.dump))
		}
		got := n.Blocks()
		if len(got) != len(c.want) {
			t.Fatalf("%s: the node holds %d blocks, want %d", c.name, len(got), len(c.want))
		}
		for i := range got {
			if got[i].Hash != c.want[i].Hash {
				t.Fatalf("%s: block %d is %s, want %s", c.name, i, got[i].Hash, c.want[i].Hash)
			}
		}
		if opened > 2 {
			t.Errorf("%s: the dump was read %d times, want at most 2", c.name, opened)
		}
		n.Close()
		// What was written is what a restart finds.
		n2 := openTest(t, Config{DataDir: n.cfg.DataDir, Target: n.target, Logger: testLogger(t)})
		if after := n2.Blocks(); len(after) != len(c.want) || after[len(after)-1].Hash != c.want[len(c.want)-1].Hash {
			t.Errorf("%s: after a restart %d blocks, want %d", c.name, len(after), len(c.want))
		}
		n2.Close()
	}
}
