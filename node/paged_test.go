package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// scaled returns full, or small under -short.
func scaled(full, small int) int {
	if testing.Short() {
		return small
	}
	return full
}

// target1 is difficulty 1, which the synthetic chains use.
func target1(t testing.TB) hasher.Target {
	tg, err := engine.Difficulty(1)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// synthDir builds a data dir at difficulty 1 holding genesis and blocks
// more blocks (added to what dir holds, when it holds a store).
func synthDir(t testing.TB, dir string, blocks int, author string) {
	t.Helper()
	if _, err := Synthesize(context.Background(), dir, target1(t), SynthOptions{Blocks: blocks, Author: author, TxBytes: 100}); err != nil {
		t.Fatal(err)
	}
}

// copyStore copies the store of one data dir into a new one.
func copyStore(t testing.TB, from string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(from, StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StoreFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func config1(t testing.TB, dir string) Config {
	cfg := testConfig(t, dir)
	cfg.Target = target1(t)
	return cfg
}

func get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// oldEncodeDump is the node's dump encoder before the chain was streamed
// from the store, kept as the oracle of GET /chain's bytes.
func oldEncodeDump(wires [][]byte, peers []string) []byte {
	out := []byte(`{"length": `)
	out = fmt.Appendf(out, "%d", len(wires))
	out = append(out, `, "chain": [`...)
	for i, w := range wires {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = append(out, w...)
	}
	out = append(out, `], "peers": [`...)
	for i, p := range peers {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = pyjson.AppendString(out, p)
	}
	return append(out, "]}"...)
}

// elements returns the blocks of a /chain answer, each re-encoded as
// CPython's json.dumps(sort_keys=True) would.
func elements(t testing.TB, chain []byte) [][]byte {
	t.Helper()
	v, err := pyjson.Decode(chain)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, b := range v.(pyjson.Object)["chain"].([]pyjson.Value) {
		e, err := pyjson.Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestChainStreamedAsBefore checks GET /chain and Export, streamed from
// the store, byte for byte against the encoder they replaced, for a chain
// far longer than the stream's buffer.
func TestChainStreamedAsBefore(t *testing.T) {
	shortLockTimeout(t)
	dir := t.TempDir()
	synthDir(t, dir, scaled(2000, 300), "")
	a := startNode(t, config1(t, dir), "")
	a.AddPeers("http://127.0.0.1:9/", "http://[::1]:8/x/")
	_, got := get(t, a.url+"chain")
	var wires [][]byte
	for _, b := range a.Blocks() {
		w, err := b.MarshalWire()
		if err != nil {
			t.Fatal(err)
		}
		wires = append(wires, w)
	}
	want := oldEncodeDump(wires, a.Peers())
	if !bytes.Equal(got, want) {
		t.Fatalf("GET /chain differs from the old encoder's dump (%d and %d bytes)", len(got), len(want))
	}
	if d, err := engine.EncodeDump(a.Blocks(), a.Peers()); err != nil || !bytes.Equal(d, want) {
		t.Fatalf("engine.EncodeDump differs from the old encoder's dump: %v", err)
	}
	a.stop()
	exp, err := Export(dir)
	if err != nil || !bytes.Equal(exp, want) {
		t.Fatalf("Export differs from the old encoder's dump: %v", err)
	}
}

// TestPagedEndpoints checks GET /blocks and GET /headers against GET
// /chain, and their answers to bad parameters.
func TestPagedEndpoints(t *testing.T) {
	dir := t.TempDir()
	total := scaled(1500, 250) + 1
	synthDir(t, dir, total-1, "")
	a := startNode(t, config1(t, dir), "")
	_, chain := get(t, a.url+"chain")
	els := elements(t, chain)
	page := func(from, n int) string {
		var parts []string
		for _, e := range els[min(from, len(els)):min(from+n, len(els))] {
			parts = append(parts, string(e))
		}
		return fmt.Sprintf(`{"length": %d, "blocks": [%s]}`, len(els), strings.Join(parts, ", "))
	}
	for _, c := range []struct {
		query    string
		from, n  int
		wantSize int
	}{
		{"", 0, DefaultPageBlocks, DefaultPageBlocks},
		{"?from=7&limit=3", 7, 3, 3},
		{fmt.Sprintf("?from=%d&limit=10", total-3), total - 3, 10, 3},
		{fmt.Sprintf("?from=%d", total), total, 100, 0},
		{"?from=1&limit=100000", 1, MaxPageBlocks, min(MaxPageBlocks, total-1)},
	} {
		code, body := get(t, a.url+"blocks"+c.query)
		if code != 200 || string(body) != page(c.from, c.n) {
			t.Fatalf("GET /blocks%s: %d\n%.300s\nwant\n%.300s", c.query, code, body, page(c.from, c.n))
		}
		if got := strings.Count(string(body), `"previous_hash"`); got != c.wantSize {
			t.Fatalf("GET /blocks%s: %d blocks, want %d", c.query, got, c.wantSize)
		}
	}
	for _, q := range []struct{ query, param string }{
		{"from=-1", "from"}, {"from=x", "from"}, {"from=1&limit=0", "limit"}, {"limit=-5", "limit"}, {"limit=ten", "limit"},
	} {
		for _, ep := range []string{"blocks", "headers"} {
			want(t, "GET", a.url+ep+"?"+q.query, "", 400, "Invalid parameter: "+q.param+":")
		}
	}
	blocks := a.Blocks()
	var hashes []string
	for _, b := range blocks[5:9] {
		hashes = append(hashes, fmt.Sprintf("%q", b.Hash))
	}
	want(t, "GET", a.url+"headers?from=5&limit=4", "", 200, fmt.Sprintf(`{"length": %d, "hashes": [%s]}`, total, strings.Join(hashes, ", ")))
	want(t, "GET", a.url+fmt.Sprintf("headers?from=%d", total+5), "", 200, fmt.Sprintf(`{"length": %d, "hashes": []}`, total))
}

// sameChain fails unless the two nodes hold the same blocks.
func sameChain(t testing.TB, a, b *Node) {
	t.Helper()
	ab, bb := a.Blocks(), b.Blocks()
	if len(ab) != len(bb) {
		t.Fatalf("the chains have %d and %d blocks", len(ab), len(bb))
	}
	for i := range ab {
		if ab[i].Hash != bb[i].Hash {
			t.Fatalf("the chains differ at block %d", i)
		}
	}
}

// TestPagedSync registers a fresh node with a powchain node holding a few
// thousand blocks: the chain comes in pages (GET /blocks), never whole.
// When the peer grows, the next sync fetches only the new blocks.
func TestPagedSync(t *testing.T) {
	dir := t.TempDir()
	n := scaled(5000, 600)
	synthDir(t, dir, n, "")
	var chainAsked, pages atomic.Int64
	a := startNode(t, config1(t, dir), "")
	// Count what the syncing node asks for, in front of the real node.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/chain" || (r.URL.Path == "/register_node" && r.URL.Query().Get("paged") != "1"):
			chainAsked.Add(1)
		case r.URL.Path == "/blocks":
			pages.Add(1)
		}
		proxy(w, r, a.url)
	}))
	defer front.Close()

	b := startNode(t, config1(t, ""), "")
	want(t, "POST", b.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, front.URL), 200, "Registration successful")
	sameChain(t, a.Node, b.Node)
	if chainAsked.Load() != 0 || pages.Load() < int64(n/MaxPageBlocks) {
		t.Fatalf("the sync asked for the whole chain %d times and for %d pages", chainAsked.Load(), pages.Load())
	}
	fetched := metric(t, b, "powchain_sync_blocks_total")
	if fetched != float64(n) {
		t.Fatalf("powchain_sync_blocks_total is %v, want %d", fetched, n)
	}

	// The peer grows (Mine does not announce): only the new blocks cross.
	for i := range 3 {
		a.postTx(t, "a", fmt.Sprint("more ", i))
		if _, err := a.Mine(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := b.Sync(context.Background()); !ok || err != nil {
		t.Fatalf("Sync: %v, %v", ok, err)
	}
	sameChain(t, a.Node, b.Node)
	if got := metric(t, b, "powchain_sync_blocks_total") - fetched; got != 3 {
		t.Fatalf("the second sync fetched %v blocks, want 3", got)
	}
	if chainAsked.Load() != 0 {
		t.Fatal("the second sync asked for the whole chain")
	}
}

// proxy forwards a request to the node at base and copies its answer.
func proxy(w http.ResponseWriter, r *http.Request, base string) {
	u, _ := url.Parse(base)
	u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// TestReorgOverPagedSync gives two nodes one chain of a few thousand
// blocks and then a fork each, ours shorter than theirs and both longer
// than a page and than the first look back: the sync finds the common
// ancestor, replaces our fork in one change, and our fork's transactions
// return to the pool, also after a restart.
func TestReorgOverPagedSync(t *testing.T) {
	base := t.TempDir()
	prefix, ours, theirs := scaled(3000, 300), scaled(1200, 120), scaled(2100, 210)
	synthDir(t, base, prefix, "")
	bdir := copyStore(t, base)
	synthDir(t, base, theirs, "them")
	synthDir(t, bdir, ours, "us")

	a := startNode(t, config1(t, base), "")
	bcfg := config1(t, bdir)
	b := startNode(t, bcfg, "")
	b.postTx(t, "us", "pending before the sync")
	orphans := contents(b.Blocks()[prefix+1:])
	if len(orphans) != ours {
		t.Fatalf("our fork holds %d transactions, want %d", len(orphans), ours)
	}
	if _, err := b.AddPeers(a.url); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Sync(context.Background()); !ok || err != nil {
		t.Fatalf("Sync: %v, %v", ok, err)
	}
	sameChain(t, a.Node, b.Node)
	if got := metric(t, b, "powchain_sync_blocks_total"); got != float64(theirs) {
		t.Fatalf("the sync fetched %v blocks, want the %d after the common ancestor", got, theirs)
	}
	if got := metric(t, b, "powchain_chain_replacements_total"); got != 1 {
		t.Fatalf("%v chain replacements, want 1", got)
	}
	wantPool := append(orphans, "pending before the sync")
	if got := pendingContents(b.Node); !sameStrings(got, wantPool) {
		t.Fatalf("the pool holds %d transactions, want our fork's %d and the pending one", len(got), len(wantPool)-1)
	}
	b.stop()
	b2 := openTest(t, bcfg)
	sameChain(t, a.Node, b2)
	if got := pendingContents(b2); !sameStrings(got, wantPool) {
		t.Fatalf("after a restart the pool holds %d transactions, want %d", len(got), len(wantPool))
	}
}

// TestReferencePeerFallback syncs from a peer that speaks only the
// reference protocol: in front of a real node, it answers GET /chain and
// POST /register_node (ignoring the query, as the reference node does) and
// 404 to everything else. The node falls back to the whole chain.
func TestReferencePeerFallback(t *testing.T) {
	dir := t.TempDir()
	synthDir(t, dir, scaled(1000, 200), "")
	a := startNode(t, config1(t, dir), "")
	var other atomic.Int64
	ref := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == "GET" && r.URL.Path == "/chain") || (r.Method == "POST" && r.URL.Path == "/register_node") {
			r.URL.RawQuery = ""
			proxy(w, r, a.url)
			return
		}
		other.Add(1)
		http.NotFound(w, r)
	}))
	defer ref.Close()
	b := startNode(t, config1(t, ""), "")
	want(t, "POST", b.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, ref.URL), 200, "Registration successful")
	sameChain(t, a.Node, b.Node)

	a.postTx(t, "a", "after registration")
	if _, err := a.Mine(context.Background()); err != nil { // not announced
		t.Fatal(err)
	}
	if ok, err := b.Sync(context.Background()); !ok || err != nil {
		t.Fatalf("Sync: %v, %v", ok, err)
	}
	sameChain(t, a.Node, b.Node)
	if other.Load() == 0 || metric(t, b, "powchain_sync_pages_total") != 0 {
		t.Fatalf("the node asked %d other paths and fetched %v pages", other.Load(), metric(t, b, "powchain_sync_pages_total"))
	}
}

// metric reads one metric of a running node from its GET /metrics.
func metric(t testing.TB, n *tnode, name string) float64 {
	t.Helper()
	_, body := get(t, n.url+"metrics")
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestPagedSyncRetriesAndRefuses puts a proxy in front of a real node: it
// first answers some page requests 503, which the sync retries, and then
// serves a page whose block was tampered with, which the sync refuses at
// that block, keeping the pages before it.
func TestPagedSyncRetriesAndRefuses(t *testing.T) {
	dir := t.TempDir()
	n := scaled(3000, 2500)
	synthDir(t, dir, n, "")
	a := startNode(t, config1(t, dir), "")
	var pages atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/blocks" {
			proxy(w, r, a.url)
			return
		}
		switch {
		case pages.Add(1) <= 2:
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		case r.URL.Query().Get("from") == "2001":
			// Change a transaction of the page's 10th block after it was mined.
			rec := httptest.NewRecorder()
			proxy(rec, r, a.url)
			body := strings.Replace(rec.Body.String(), "block 2010 ", "block 2010!", 1)
			w.Write([]byte(body))
			return
		}
		proxy(w, r, a.url)
	}))
	defer front.Close()
	b := startNode(t, config1(t, ""), "")
	if _, err := b.AddPeers(front.URL); err != nil {
		t.Fatal(err)
	}
	ok, err := b.Sync(context.Background())
	if !ok || err != nil {
		t.Fatalf("Sync: %v, %v", ok, err)
	}
	if got := metric(t, b, "powchain_sync_retries_total"); got != 2 {
		t.Fatalf("%v retries, want 2", got)
	}
	if b.Len() != 2001 {
		t.Fatalf("the node holds %d blocks, want the 2001 before the page with the tampered block", b.Len())
	}
	if got := metric(t, b, `powchain_blocks_rejected_total{rule="hash"}`); got != 1 {
		t.Fatalf("powchain_blocks_rejected_total{rule=\"hash\"} is %v, want 1", got)
	}
}
