package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// switchChains is a stored chain and a longer fork of it, with blocks of
// about 7 KiB each (a padded transaction), for chain switches that take
// many move transactions at importBatch = 16 KiB: base (genesis and 4
// blocks), then ours (20 more) or theirs (40 more). Block 3 of theirs
// holds the pending transaction cleared.
func switchChains(t *testing.T, cleared pyjson.Value) (base, ours, theirs []*engine.Block) {
	t.Helper()
	pad := strings.Repeat("p", 7000)
	padded := func(tag string) map[int][]pyjson.Value {
		m := map[int][]pyjson.Value{}
		for i := range 40 {
			m[i] = []pyjson.Value{tx("pad", tag+strconv.Itoa(i)+pad)}
		}
		return m
	}
	base = taggedChain(t, []*engine.Block{engine.Genesis()}, 4, "base", nil)
	ours = taggedChain(t, base, 20, "ours", padded("ours"))
	extra := padded("theirs")
	extra[3] = append(extra[3], cleared)
	theirs = taggedChain(t, base, 40, "theirs", extra)
	return base, ours, theirs
}

// pauseMove makes the next chain switch stop after its second move
// transaction of blocks: paused is closed there, and the move goes on
// when release is closed. The caller resets switchMoved.
func pauseMove() (paused, release chan struct{}) {
	paused, release = make(chan struct{}), make(chan struct{})
	moves := 0
	switchMoved = func(what string) error {
		if what == "blocks" {
			if moves++; moves == 2 {
				close(paused)
				<-release
			}
		}
		return nil
	}
	return paused, release
}

// slowClient is a client for requests that may wait: long enough for a
// request that waits for a paused move to end once the move goes on.
var slowClient = &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}

type getResult struct {
	path string
	body string
	err  error
}

func getAnswer(url, path string) getResult {
	resp, err := slowClient.Get(url + path)
	if err != nil {
		return getResult{path: path, err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status + ": " + string(body))
	}
	return getResult{path: path, body: string(body), err: err}
}

// TestSwitchReadersDoNotWait pauses a chain switch in the middle of its
// move (staged blocks still in the staging bucket, some in the blocks
// bucket, the old ones past them) and asks the running node for its
// chain, pages of blocks and hashes over HTTP meanwhile: every answer
// comes while the move is paused, and is the answer the node gives once
// the switch is done (the switch passed its commit point: the new chain
// is the chain). The pending transaction the new chain holds has left the
// pool, and a block mined meanwhile builds on the new tip without it.
// Readers used to wait for the whole move.
func TestSwitchReadersDoNotWait(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	defer func() { switchMoved = nil }()
	importBatch = 16 << 10
	tn := startNode(t, testConfig(t, ""), "")
	cleared, err := tn.AddTransaction(pyjson.Object{"author": "x", "content": "pending, in the new chain"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.AddTransaction(pyjson.Object{"author": "x", "content": "pending"}); err != nil {
		t.Fatal(err)
	}
	base, ours, theirs := switchChains(t, cleared)
	if _, err := tn.Import(&engine.Dump{Blocks: ours}); err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"chain",
		"blocks?from=" + strconv.Itoa(len(base)-2) + "&limit=1000",
		"blocks?from=" + strconv.Itoa(len(ours)+3) + "&limit=1000",
		"headers?from=0&limit=10000",
	}
	before := map[string]string{}
	for _, p := range paths {
		a := getAnswer(tn.url, p)
		if a.err != nil {
			t.Fatalf("GET /%s: %v", p, a.err)
		}
		before[p] = a.body
	}

	paused, release := pauseMove()
	released := false
	imported, importDone := make(chan error, 1), make(chan struct{})
	defer func() { // the switch ends before the test does, whatever failed
		if !released {
			close(release)
		}
		<-importDone
	}()
	go func() {
		defer close(importDone)
		dump, err := engine.EncodeDump(theirs, nil)
		if err == nil {
			var scan *DumpScan
			scan, err = ScanDump(t.Context(), bytes.NewReader(dump), tn.target, nil)
			if err == nil {
				var res *ImportResult
				res, err = tn.ImportFrom(t.Context(), scan, func() (io.ReadCloser, error) {
					return io.NopCloser(bytes.NewReader(dump)), nil
				})
				if err == nil && !res.Replaced {
					err = errors.New("the import did not replace the chain")
				}
			}
		}
		imported <- err
	}()
	select {
	case <-paused:
	case err := <-imported:
		t.Fatalf("the import ended (%v) without pausing in its move", err)
	case <-time.After(time.Minute):
		t.Fatal("the switch did not reach its second move transaction in a minute")
	}
	// The move is half done: the store holds the marker, staged blocks
	// and moved ones.
	tn.store.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketStaging)
		if !switchPendingTx(tx) || st == nil {
			t.Fatal("the paused switch has no marker or no staging bucket")
		}
		if k, _ := st.Cursor().First(); k == nil || int(binary.BigEndian.Uint64(k)) <= len(base) {
			t.Fatalf("the paused switch has moved no block or all of them (first staged key %x)", k)
		}
		return nil
	})

	answers := make(chan getResult, len(paths))
	for _, p := range paths {
		go func() { answers <- getAnswer(tn.url, p) }()
	}
	during := map[string]string{}
	wait := time.After(time.Minute)
	for range paths {
		select {
		case a := <-answers:
			if a.err != nil {
				t.Errorf("GET /%s during the move: %v", a.path, a.err)
			}
			during[a.path] = a.body
		case <-wait:
			t.Errorf("only %d of %d answers came in a minute while the move was paused: readers wait for the move", len(during), len(paths))
			close(release)
			released = true
			for range len(paths) - len(during) {
				<-answers
			}
			return
		}
	}
	// What the node holds in memory is the new chain already, its pool
	// without the pending transaction the new chain holds.
	if got := tn.Len(); got != len(theirs) {
		t.Errorf("during the move the node's length is %d, want the new chain's %d", got, len(theirs))
	}
	if got := pendingContents(tn.Node); !sameStrings(got, []string{"pending"}) {
		t.Errorf("during the move the pool holds %q, want only the transaction the new chain does not hold", got)
	}
	mined := make(chan *engine.Block, 1)
	go func() {
		b, err := tn.Mine(t.Context())
		if err != nil {
			t.Errorf("Mine: %v", err)
		}
		mined <- b
	}()

	close(release)
	released = true
	if err := <-imported; err != nil {
		t.Fatalf("the import: %v", err)
	}
	b := <-mined
	if b == nil || b.PreviousHash != tip(theirs) {
		t.Fatalf("the block mined during the move is %+v, want one on the new tip %s", b, tip(theirs))
	}
	if got := contents([]*engine.Block{b}); !sameStrings(got, []string{"pending"}) {
		t.Errorf("the block mined during the move holds %q, want only the transaction the new chain does not hold", got)
	}
	for _, p := range paths {
		// The answers after the switch, without the block mined since.
		want := afterSwitch(t, p, tn.url, len(theirs))
		switch during[p] {
		case want:
		case before[p]:
			t.Errorf("GET /%s during the move answered the old chain, after the commit point", p)
		default:
			t.Errorf("GET /%s during the move answered neither the old chain nor the new:\n%.300s\nwant\n%.300s", p, during[p], want)
		}
	}
	d, err := engine.DecodeDump([]byte(during["chain"]))
	if err != nil {
		t.Fatalf("the /chain answer during the move: %v", err)
	}
	if err := engine.ValidateChain(d.Blocks, target2(t)); err != nil || len(d.Blocks) != len(theirs) || tip(d.Blocks) != tip(theirs) {
		t.Fatalf("the /chain answer during the move: %d blocks ending in %s, %v; want the new chain", len(d.Blocks), tip(d.Blocks), err)
	}
}

// afterSwitch is the answer to GET path of the chain's first length
// blocks, asked of a node that holds them and maybe more.
func afterSwitch(t *testing.T, path, url string, length int) string {
	t.Helper()
	a := getAnswer(url, path)
	if a.err != nil {
		t.Fatalf("GET /%s after the switch: %v", path, a.err)
	}
	if path == "chain" {
		d, err := engine.DecodeDump([]byte(a.body))
		if err != nil {
			t.Fatal(err)
		}
		out, err := engine.EncodeDump(d.Blocks[:length], d.Peers)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	// {"length": N, "blocks"/"hashes": [...]}: drop the entries past length.
	var items []string
	key, list := "blocks", "blocks"
	if strings.HasPrefix(path, "headers") {
		key, list = "headers", "hashes"
	}
	from, _ := strconv.Atoi(strings.TrimPrefix(path[:strings.Index(path, "&")], key+"?from="))
	v, err := pyjson.Decode([]byte(a.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range v.(pyjson.Object)[list].([]pyjson.Value) {
		enc, err := pyjson.Encode(it)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, string(enc))
	}
	items = items[:max(0, min(len(items), length-from))]
	return `{"length": ` + strconv.Itoa(length) + `, "` + list + `": [` + strings.Join(items, ", ") + `]}`
}

// TestSwitchReaderPinned: a GET /chain that began before a chain switch
// reads the chain it began with, whole, however long it takes and however
// far the switch goes meanwhile (it reads one bbolt read transaction);
// the switch does not wait for it.
func TestSwitchReaderPinned(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	importBatch = 16 << 10
	n := openTest(t, testConfig(t, ""))
	_, ours, theirs := switchChains(t, tx("x", "unused"))
	if _, err := n.Import(&engine.Dump{Blocks: ours}); err != nil {
		t.Fatal(err)
	}
	old := n.ChainJSON()
	if len(old) < 2*64<<10 {
		t.Fatalf("the chain dump is %d bytes, want it over twice the stream's buffer", len(old))
	}
	w := &heldWriter{started: make(chan struct{}), release: make(chan struct{})}
	streamed := make(chan error, 1)
	go func() { streamed <- n.WriteChain(w) }()
	<-w.started // the stream is under way, its first 64 KiB written
	if res, err := importDump(t, n, theirs); err != nil || !res.Replaced {
		t.Fatalf("ImportFrom while a stream is under way: %+v, %v", res, err)
	}
	close(w.release)
	if err := <-streamed; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.buf.Bytes(), old) {
		t.Errorf("a stream begun before the switch sent %d bytes that are not the old chain's dump of %d", w.buf.Len(), len(old))
	}
	d, err := engine.DecodeDump(n.ChainJSON())
	if err != nil || !slices.EqualFunc(d.Blocks, theirs, func(a, b *engine.Block) bool { return a.Hash == b.Hash }) {
		t.Errorf("after the switch the chain is not the new one (%v)", err)
	}
}

// heldWriter collects what is written; its first Write waits for release.
type heldWriter struct {
	buf              bytes.Buffer
	started, release chan struct{}
	once             bool
}

func (w *heldWriter) Write(p []byte) (int, error) {
	if !w.once {
		w.once = true
		close(w.started)
		<-w.release
	}
	return w.buf.Write(p)
}

// TestChainViewEveryMoveStep reads the chain from the store after each
// move transaction of a switch that takes many: it is the new chain,
// whole, at every step, and the /blocks pages agree with it.
func TestChainViewEveryMoveStep(t *testing.T) {
	defer func(b int) { importBatch = b }(importBatch)
	defer func() { switchMoved = nil }()
	importBatch = 1 // a block a transaction
	n := openTest(t, testConfig(t, ""))
	base := taggedChain(t, []*engine.Block{engine.Genesis()}, 3, "base", nil)
	ours := taggedChain(t, base, 8, "ours", nil)
	theirs := taggedChain(t, base, 20, "theirs", nil)
	if _, err := n.Import(&engine.Dump{Blocks: ours}); err != nil {
		t.Fatal(err)
	}
	steps := 0
	switchMoved = func(what string) error {
		steps++
		wantChain(t, what+" move transaction "+strconv.Itoa(steps), n, theirs)
		var page bytes.Buffer
		err := n.store.db.View(func(tx *bolt.Tx) error { return n.store.writePage(tx, &page, len(base)-1, 5, MaxPageBytes) })
		if err != nil {
			t.Fatal(err)
		}
		wantPage := `{"length": ` + strconv.Itoa(len(theirs)) + `, "blocks": [`
		for i, b := range theirs[len(base)-1 : len(base)+4] {
			if i > 0 {
				wantPage += ", "
			}
			wantPage += wire(t, b)
		}
		if wantPage += "]}"; page.String() != wantPage {
			t.Fatalf("%s move transaction %d: the page from height %d is\n%.300s\nwant\n%.300s", what, steps, len(base)-1, page.String(), wantPage)
		}
		return nil
	}
	if res, err := importDump(t, n, theirs); err != nil || !res.Replaced {
		t.Fatalf("ImportFrom: %+v, %v", res, err)
	}
	if steps < 10 {
		t.Fatalf("the switch took %d move transactions, want many", steps)
	}
	wantChain(t, "after the switch", n, theirs)
	noStaging(t, "after the switch", n)
}
