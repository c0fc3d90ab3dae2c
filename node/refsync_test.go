package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
)

// refPeer serves a chain dump as the reference node does: GET /chain and
// POST /register_node answer the whole chain, every other path is 404 (so
// the syncer takes it for a reference peer). open gives the dump from its
// start.
func refPeer(t *testing.T, open func() (io.ReadCloser, error)) *httptest.Server {
	t.Helper()
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/chain" && (r.Method != "POST" || r.URL.Path != "/register_node") {
			http.NotFound(w, r)
			return
		}
		d, err := open()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer d.Close()
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, d)
	}))
	t.Cleanup(peer.Close)
	return peer
}

func bytesDump(t *testing.T, blocks []*engine.Block) func() (io.ReadCloser, error) {
	t.Helper()
	d, err := engine.EncodeDump(blocks, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(d)), nil }
}

// TestReferenceSyncStaged: a reference peer's longer chain, forking from
// ours, is read as a stream, staged in many batches and switched to; its
// blocks are the node's afterwards, our replaced block's transaction is
// pending again, and nothing is left staged. A chain that only extends
// ours is adopted the same way.
func TestReferenceSyncStaged(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	importBatch = 2 << 10 // a few blocks a batch
	g := engine.Genesis()
	a := openTest(t, testConfig(t, ""))
	a.postTxDirect(t, "a", "ours")
	if _, err := a.Mine(context.Background()); err != nil {
		t.Fatal(err)
	}
	theirs := taggedChain(t, []*engine.Block{g}, 40, "p", nil)
	peer := refPeer(t, bytesDump(t, theirs))
	if _, err := a.AddPeers(peer.URL); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Sync(context.Background()); !ok || err != nil {
		t.Fatalf("Sync: %v %v", ok, err)
	}
	wantChain(t, "after a fork from a reference peer", a, theirs)
	if p := pendingContents(a); len(p) != 1 || p[0] != "ours" {
		t.Fatalf("pending after the switch: %v", p)
	}
	noStaging(t, "after a fork from a reference peer", a)
	want, _ := engine.EncodeDump(theirs, nil)
	exp, err := engine.EncodeDump(a.Blocks(), nil)
	if err != nil || !bytes.Equal(exp, want) {
		t.Fatalf("the node's chain differs from the peer's: %v", err)
	}

	// An extension of ours.
	longer := taggedChain(t, theirs, 10, "q", nil)
	peer2 := refPeer(t, bytesDump(t, longer))
	a.RemovePeer(peer.URL)
	if _, err := a.AddPeers(peer2.URL); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Sync(context.Background()); !ok || err != nil {
		t.Fatalf("Sync of an extension: %v %v", ok, err)
	}
	wantChain(t, "after an extension from a reference peer", a, longer)
	noStaging(t, "after an extension", a)
	// The same chain again changes nothing.
	if ok, err := a.Sync(context.Background()); ok || err != nil {
		t.Fatalf("Sync of the same chain: %v %v", ok, err)
	}
	// The store's export holds the peer's chain.
	a.Close()
	var exp2 bytes.Buffer
	if err := ExportTo(a.cfg.DataDir, &exp2, false); err != nil {
		t.Fatal(err)
	}
	i := 0
	scan, err := ScanDump(context.Background(), &exp2, target2(t), func(pos int, b *engine.Block) error {
		if b.Hash != longer[pos].Hash {
			t.Errorf("the export's block %d differs from the peer's", pos)
		}
		i++
		return nil
	})
	if err != nil || scan.Invalid != nil || i != len(longer) {
		t.Fatalf("the export: %d blocks of %d, %v %v", i, len(longer), err, scan.Invalid)
	}
}

// TestRegisterWithReference: registering with a reference peer (whose
// POST /register_node answers with its chain) whose longer chain forks
// from ours stages it in batches and switches to it, as a sync does; the
// peer is ours afterwards, our replaced block's transaction is pending
// again, and nothing is left staged. Registering again changes nothing.
func TestRegisterWithReference(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	importBatch = 2 << 10 // a few blocks a batch
	a := openTest(t, testConfig(t, ""))
	a.postTxDirect(t, "a", "ours")
	if _, err := a.Mine(context.Background()); err != nil {
		t.Fatal(err)
	}
	theirs := taggedChain(t, []*engine.Block{engine.Genesis()}, 40, "p", nil)
	peer := refPeer(t, bytesDump(t, theirs))
	for round, adopted := range []bool{true, false} {
		reg, err := a.RegisterWith(context.Background(), peer.URL, "http://127.0.0.1:1")
		if err != nil || reg.Adopted != adopted || reg.TheirLength != len(theirs) {
			t.Fatalf("round %d: RegisterWith: %+v %v, want adopted %v, their length %d", round, reg, err, adopted, len(theirs))
		}
		wantChain(t, "after registering with a reference peer", a, theirs)
		if p := pendingContents(a); len(p) != 1 || p[0] != "ours" {
			t.Fatalf("round %d: pending after the registration: %v", round, p)
		}
		if p := a.Peers(); len(p) != 1 {
			t.Fatalf("round %d: peers %v, want the reference peer", round, p)
		}
		noStaging(t, "after registering", a)
	}
}

// TestReferenceSyncInvalidTail: a reference peer's longer chain with a
// bad block near its end, after many staged batches, changes nothing:
// the chain, the pool and the store are as before, nothing is staged.
func TestReferenceSyncInvalidTail(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	importBatch = 2 << 10
	a := openTest(t, testConfig(t, ""))
	a.postTxDirect(t, "a", "ours")
	if _, err := a.Mine(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.postTxDirect(t, "a", "pending")
	before := a.Blocks()
	for _, fork := range []int{1, 2} { // a fork, an extension
		base := a.Blocks()[:fork]
		theirs := taggedChain(t, base, 40, "p", nil)
		bad := *theirs[len(theirs)-3]
		bad.Nonce++
		theirs[len(theirs)-3] = &bad
		peer := refPeer(t, bytesDump(t, theirs))
		// Registering with it: refused, the peer not added.
		reg, err := a.RegisterWith(context.Background(), peer.URL, "http://127.0.0.1:1")
		var re *engine.RuleError
		if reg != nil || !errors.As(err, &re) || re.Index != int64(len(theirs)-3) {
			t.Fatalf("fork at %d: RegisterWith: %+v %v, want block %d's rule error", fork, reg, err, len(theirs)-3)
		}
		if p := a.Peers(); len(p) != 0 {
			t.Fatalf("fork at %d: peers after a refused registration: %v", fork, p)
		}
		wantChain(t, "after an invalid registration answer", a, before)
		noStaging(t, "after an invalid registration answer", a)
		if _, err := a.AddPeers(peer.URL); err != nil {
			t.Fatal(err)
		}
		ok, err := a.Sync(context.Background())
		if ok || err != nil {
			t.Fatalf("fork at %d: Sync: %v %v", fork, ok, err)
		}
		wantChain(t, "after an invalid answer", a, before)
		if p := pendingContents(a); len(p) != 1 || p[0] != "pending" {
			t.Fatalf("fork at %d: pending %v", fork, p)
		}
		noStaging(t, "after an invalid answer", a)
		a.RemovePeer(peer.URL)
	}
	// Reopened, the store holds the same.
	dir := a.cfg.DataDir
	a.Close()
	b := openTest(t, testConfig(t, dir))
	if !strings.Contains(string(b.ChainJSON()), `"ours"`) || b.Len() != 2 {
		t.Fatal("the reopened store differs")
	}
	noStaging(t, "reopened", b)
}

// TestReferenceSyncMemory: syncing from, or registering with, a reference
// peer whose chain is large (about 36 MB of blocks) keeps the heap far
// below the answer's size: the blocks are staged in batches, not held.
// The peer streams the dump from a file.
// Measured on a 37 MB answer: the heap in use grew by 182 MB when the
// answer was decoded whole, by about 12 MB streamed (a batch of blocks
// decoded and its store transaction).
func TestReferenceSyncMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("a 36 MB chain: not with -short")
	}
	ctx := context.Background()
	src := t.TempDir()
	const blocks, txBytes = 9000, 4000
	if _, err := Synthesize(ctx, src, target2(t), SynthOptions{Blocks: blocks, TxBytes: txBytes}); err != nil {
		t.Fatal(err)
	}
	dumpPath := filepath.Join(t.TempDir(), "dump.json")
	f, err := os.Create(dumpPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := ExportTo(src, f, false); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(dumpPath)
	size := fi.Size()
	peer := refPeer(t, func() (io.ReadCloser, error) { return os.Open(dumpPath) })
	for _, way := range []string{"sync", "register"} {
		a := openTest(t, testConfig(t, ""))
		peak, err := peakHeap(func() error {
			if way == "register" {
				reg, err := a.RegisterWith(ctx, peer.URL, "http://127.0.0.1:1")
				if err == nil && (!reg.Adopted || reg.TheirLength != blocks+1) {
					err = fmt.Errorf("registration %+v, want the chain adopted", reg)
				}
				return err
			}
			if _, err := a.AddPeers(peer.URL); err != nil {
				return err
			}
			ok, err := a.Sync(ctx)
			if err == nil && !ok {
				err = errors.New("the chain was not adopted")
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", way, err)
		}
		if a.Len() != blocks+1 {
			t.Fatalf("%s: the node holds %d blocks, want %d", way, a.Len(), blocks+1)
		}
		noStaging(t, "after a large "+way, a)
		t.Logf("%s: answer %d MB, peak heap in use above the start %.1f MB", way, size>>20, float64(peak)/(1<<20))
		if peak > uint64(size)/2 {
			t.Fatalf("%s: the heap grew by %d MB while reading a %d MB answer, want under half of it", way, peak>>20, size>>20)
		}
		a.Close()
	}
}

// peakHeap runs f while sampling the heap in use every 2 ms, and returns
// how far above the start it went.
func peakHeap(f func() error) (uint64, error) {
	// A low GC percent keeps the heap in use close to what is live, so
	// that the figure is what the sync holds, not the collector's slack.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	err := f()
	close(stop)
	<-sampled
	return peak.Load(), err
}

// TestReferenceSyncOursGrew: our chain grows while a reference peer's
// answer is being read. An answer that is then no longer than ours
// changes nothing; one that is still longer replaces our blocks, the
// ones mined meanwhile too, and their transactions are pending again.
func TestReferenceSyncOursGrew(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	importBatch = 1 << 10
	g := engine.Genesis()
	for _, c := range []struct {
		theirs  int // blocks after genesis
		adopted bool
	}{{3, false}, {5, true}} {
		a := openTest(t, testConfig(t, ""))
		a.postTxDirect(t, "a", "o1")
		if _, err := a.Mine(context.Background()); err != nil {
			t.Fatal(err)
		}
		theirs := taggedChain(t, []*engine.Block{g}, c.theirs, "p", nil)
		dump, err := engine.EncodeDump(theirs, nil)
		if err != nil {
			t.Fatal(err)
		}
		peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/chain" {
				http.NotFound(w, r)
				return
			}
			half := len(dump) / 2
			w.Write(dump[:half])
			w.(http.Flusher).Flush()
			for _, s := range []string{"o2", "o3"} { // ours grows to 4 blocks
				a.postTxDirect(t, "a", s)
				if _, err := a.Mine(context.Background()); err != nil {
					t.Error(err)
				}
			}
			w.Write(dump[half:])
		}))
		if _, err := a.AddPeers(peer.URL); err != nil {
			t.Fatal(err)
		}
		ok, err := a.Sync(context.Background())
		peer.Close()
		if ok != c.adopted || err != nil {
			t.Fatalf("%d blocks against our 4: Sync %v %v, want %v", len(theirs), ok, err, c.adopted)
		}
		noStaging(t, "after our chain grew", a)
		if !c.adopted {
			if a.Len() != 4 || !strings.Contains(string(a.ChainJSON()), `"o3"`) {
				t.Fatalf("a chain no longer than ours changed it: %d blocks", a.Len())
			}
			continue
		}
		wantChain(t, "a longer chain after ours grew", a, theirs)
		if p := pendingContents(a); len(p) != 3 {
			t.Fatalf("pending after the switch: %v, want o1, o2, o3", p)
		}
	}
}
