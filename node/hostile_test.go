package node

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// The tests in this file each reproduce one way a stranger could break a
// node (issue 11) and check the node's answer. cmd/powchain's hostile
// suite drives a real serve process with the same attacks and watches its
// memory.

// nested returns a transaction whose "content" sits inside depth levels
// of objects and arrays, the transaction object being level 1.
func nested(depth int) string {
	inner := strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1)
	return `{"author": "deep", "content": "c", "x": ` + inner + `}`
}

// Finding 1: a transaction nested ~1000 deep was accepted and stopped
// mining for ever. Now the limit is MaxTxDepth at the door, and what is
// accepted mines and serves.
func TestNestingLimitAtTheDoor(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	for _, depth := range []int{65, 100, 997, 998, 1000, 1001, 1100} {
		want(t, "POST", a.url+"new_transaction", nested(depth), 400, "nested deeper than 64 levels")
	}
	want(t, "POST", a.url+"new_transaction", nested(MaxTxDepth), 201, "Success")
	want(t, "GET", a.url+"mine", "", 200, "Block #1 is mined.")
	blocks := chainOf(t, a.url) // decodes and validates what it serves
	if len(blocks) != 2 || len(blocks[1].Transactions) != 1 {
		t.Fatalf("the 64-level transaction was not mined: %d blocks", len(blocks))
	}
	// A block from a peer holding a deeper transaction is refused too.
	deep, err := pyjson.Decode([]byte(nested(MaxTxDepth + 1)))
	if err != nil {
		t.Fatal(err)
	}
	b := mineOn(t, blocks[1], a.Target(), deep)
	want(t, "POST", a.url+"add_block", wire(t, b), 400, "nested deeper than 66 levels")
	if err := a.AddBlock(b); err == nil {
		t.Fatal("AddBlock took a block with a 65-level transaction")
	}
}

// Finding 1, the pool part: a store written by an older version holds a
// transaction that cannot be mined. Opening it drops the transaction with
// a log line, and mining goes on.
func TestUnminablePoolEntryIsDropped(t *testing.T) {
	dir := t.TempDir()
	n := openTest(t, testConfig(t, dir))
	n.postTxDirect(t, "ok", "before")
	deep := []byte(strings.Replace(nested(999), `"x"`, `"timestamp": 1.5, "x"`, 1))
	if _, err := n.store.addPending(deep); err != nil {
		t.Fatal(err)
	}
	n.Close()

	var log syncBuf
	cfg := testConfig(t, dir)
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	n = openTest(t, cfg)
	if !strings.Contains(log.String(), "dropping a pending transaction that cannot be mined") {
		t.Fatalf("no log line for the dropped transaction:\n%s", log.String())
	}
	if p := n.Pending(); len(p) != 1 {
		t.Fatalf("%d pending after the drop, want 1", len(p))
	}
	b, err := n.Mine(context.Background())
	if err != nil || b == nil {
		t.Fatalf("mining after the drop: %v", err)
	}

	// The same when the entry reaches the miner (put in the pool behind
	// the door's back): the miner drops it and mines the rest.
	n.postTxDirect(t, "ok", "after")
	seq, _ := n.store.addPending(deep)
	n.mu.Lock()
	n.pool.add(string(deep), seq)
	n.mu.Unlock()
	b, err = n.Mine(context.Background())
	if err != nil || b == nil || len(b.Transactions) != 1 {
		t.Fatalf("mining with an unminable entry: %v %v", b, err)
	}
	if p := n.Pending(); len(p) != 0 {
		t.Fatalf("%d pending, want 0", len(p))
	}
}

// postTxDirect adds a transaction through the API's function.
func (n *Node) postTxDirect(t testing.TB, author, content string) {
	t.Helper()
	if _, err := n.AddTransaction(tx(author, content)); err != nil {
		t.Fatal(err)
	}
}

// Finding 2: a peer's /chain answer of [0,0,0,...] was decoded whole
// (30x its size). Now the answer streams: the first non-object is refused
// and the rest is never read.
func TestHostileChainIsRefusedAtOnce(t *testing.T) {
	var written atomic.Int64
	const body = 64 << 20
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := bufio.NewWriter(w)
		bw.WriteString("[0")
		chunk := []byte(strings.Repeat(",0", 32<<10))
		for n := 0; n < body; n += len(chunk) {
			if _, err := bw.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
		}
		bw.WriteString("]")
		bw.Flush()
	}))
	defer peer.Close()
	a := openTest(t, testConfig(t, ""))
	_, err := a.syncChain(context.Background(), peer.URL+"/")
	if err == nil || !strings.Contains(err.Error(), `"chain[0]": want a block object, got a number`) {
		t.Fatalf("syncChain: %v", err)
	}
	// The peer wrote what fits in socket buffers, not its 64 MiB.
	time.Sleep(100 * time.Millisecond)
	if w := written.Load(); w > 16<<20 {
		t.Fatalf("the node read %d bytes of a hostile answer before refusing it", w)
	}
}

// Finding 2: the cap applies to decompressed bytes. A gzip bomb (a small
// body that inflates past the cap) is cut at the cap.
func TestGzipBombChain(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write([]byte("["))
	spaces := bytes.Repeat([]byte(" "), 1<<20)
	for range 12 {
		zw.Write(spaces)
	}
	zw.Close()
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/json")
		w.Write(bomb.Bytes())
	}))
	defer peer.Close()
	cfg := testConfig(t, "")
	cfg.Limits.ChainBytes = 4 << 20
	a := openTest(t, cfg)
	_, err := a.syncChain(context.Background(), peer.URL+"/")
	if err == nil || !strings.Contains(err.Error(), "over the limit of 4194304 bytes") {
		t.Fatalf("syncChain of a %d-byte gzip bomb: %v", bomb.Len(), err)
	}
}

// Finding 2: blocks are validated as they arrive; the first bad one ends
// the download with its rule.
func TestChainStreamValidates(t *testing.T) {
	a := openTest(t, testConfig(t, ""))
	g := engine.Genesis()
	b1 := mineOn(t, g, a.Target(), tx("a", "1"))
	bad := mineOn(t, b1, a.Target(), tx("a", "2"))
	bad.Nonce++
	for _, c := range []struct{ body, msg string }{
		{dumpOf(t, g, b1), ""},
		{dumpOf(t, g, b1, bad), "breaks rule hash"},
		{`{"chain": [], "chain": []}`, `"chain": appears twice`},
		{`{"length": 5, "chain": [` + wire(t, g) + `]}`, `"length": is 5 but the chain has 1 blocks`},
		{`"text"`, "want a chain dump object or an array of blocks, got a string"},
		{`{"peers": []}`, `"chain": missing`},
		{`[` + wire(t, g) + `] x`, "extra data"},
		{`[` + wire(t, g) + `, [1]]`, `"chain[1]": want a block object, got an array`},
	} {
		peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, c.body) }))
		adopted, err := a.syncChain(context.Background(), peer.URL+"/")
		peer.Close()
		switch {
		case c.msg == "" && (err != nil || !adopted || a.Len() != 2):
			t.Errorf("%.60q: adopted %v, %d blocks, %v", c.body, adopted, a.Len(), err)
		case c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%.60q: got %v, want %q", c.body, err, c.msg)
		}
	}
}

func dumpOf(t testing.TB, blocks ...*engine.Block) string {
	d, err := engine.EncodeDump(blocks, []string{"http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	return string(d)
}

// Finding 3: /add_block bodies are capped at a block's size, and a
// non-object is refused before it is decoded.
func TestAddBlockBodies(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	want(t, "POST", a.url+"add_block", "["+strings.Repeat("0,", 1<<19)+"0]", 400, "want a JSON object, got an array")
	// Over the limit: 413 on the header (sent alone, as a client that
	// waits for the answer before the body would).
	conn, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /add_block HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{", 3<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(body), "over the limit of 2097152 bytes") {
		t.Fatalf("a 3 MiB block: %d %q", resp.StatusCode, body)
	}
}

// Finding 3: large bodies decode within the decode budget: while the
// budget is taken, a large body waits; a small one does not.
func TestDecodeBudget(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	if err := a.decodeBudget.acquire(context.Background(), a.Node.cfg.Limits.DecodeBytes); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		code, _, _ := call(t, "POST", a.url+"add_block", `{"index": 1, "x": "`+strings.Repeat("a", 100<<10)+`"}`)
		done <- code
	}()
	want(t, "POST", a.url+"add_block", `{"index": 1}`, 400, `"transactions": missing`)
	select {
	case code := <-done:
		t.Fatalf("a large body decoded while the budget was taken: %d", code)
	case <-time.After(300 * time.Millisecond):
	}
	a.decodeBudget.release(a.Node.cfg.Limits.DecodeBytes)
	if code := <-done; code != 400 {
		t.Fatalf("the large body got %d once the budget was free, want 400", code)
	}
}

// Finding 4: a client that stops reading a large answer is cut off.
func TestStalledReaderIsCutOff(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.AnswerTimeout = 300 * time.Millisecond
	a := startNode(t, cfg, "")
	big := strings.Repeat("x", 60<<10)
	for i := range 300 { // 18 MB of pending transactions, more than socket buffers hold
		if _, err := a.AddTransaction(tx("a", fmt.Sprint(i, big))); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /pending_tx HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(2 * time.Second) // past the deadline for a piece
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := io.Copy(io.Discard, resp.Body)
	t.Logf("read %d bytes in %v after the stall: %v", n, time.Since(start), err)
	if err == nil || n >= resp.ContentLength {
		t.Fatalf("read %d of %d bytes after stalling (%v): the answer was not cut off", n, resp.ContentLength, err)
	}
}

// Finding 5: the pool is bounded in bytes; past it, 503 with Retry-After,
// and every acknowledged transaction is kept.
func TestPoolBytes(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.PoolBytes = 64 << 10
	a := startNode(t, cfg, "")
	big := strings.Repeat("x", 8<<10)
	acked := 0
	var last *http.Response
	for i := range 20 {
		req, _ := http.NewRequest("POST", a.url+"new_transaction", strings.NewReader(fmt.Sprintf(`{"author": "a", "content": "%d%s"}`, i, big)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 201 {
			acked++
		} else {
			last = resp
		}
	}
	if last == nil || last.StatusCode != 503 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("no 503 with Retry-After past the pool's bytes: %+v", last)
	}
	if acked == 0 || acked > 8 || len(a.Pending()) != acked {
		t.Fatalf("%d acknowledged, %d pending, pool of 64 KiB with 8 KiB transactions", acked, len(a.Pending()))
	}
}

// Finding 6: a peer's body is never echoed.
func TestPeerBodyNotEchoed(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, "SECRET-metadata-token")
	}))
	defer peer.Close()
	got := want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, peer.URL), 502, "answered 500")
	if strings.Contains(got, "SECRET") {
		t.Fatalf("the peer's body was echoed: %q", got)
	}
}

// Finding 6: the peer policy. A node served on a wildcard address refuses
// loopback, link-local and private peers unless allowed.
func TestPeerPolicy(t *testing.T) {
	cfg := testConfig(t, "")
	var err error
	cfg.PeerPolicy, err = NewPeerPolicy("0.0.0.0:8000", []string{"10.1.0.0/16", "node.example"})
	if err != nil {
		t.Fatal(err)
	}
	a := startNode(t, cfg, "")
	for addr, kind := range map[string]string{
		"http://127.0.0.1:9/":        "loopback",
		"http://localhost:9/":        "loopback",
		"http://169.254.169.254/":    "link-local",
		"http://[fe80::1]:9/":        "link-local",
		"http://10.2.0.1:9/":         "private",
		"http://192.168.1.1/":        "private",
		"http://[::ffff:127.0.0.1]/": "loopback",
		"http://0.0.0.0:9/":          "unspecified",
		"http://100.64.0.1/":         "reserved",
	} {
		want(t, "POST", a.url+"register_node", fmt.Sprintf(`{"node_address": %q}`, addr), 400, "is a "+kind+" address")
		want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, addr), 400, "is a "+kind+" address")
	}
	want(t, "POST", a.url+"register_node", `{"node_address": "http://10.1.2.3:8000/"}`, 200, `"length": 1`)
	want(t, "POST", a.url+"register_node", `{"node_address": "http://node.example:8000/"}`, 200, `"length": 1`)
	want(t, "POST", a.url+"register_node", `{"node_address": "http://93.184.215.14:8000/"}`, 200, `"length": 1`)

	// Names are checked where they are dialed: localhost resolves to a
	// loopback address, which is not dialed.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("the node dialed a refused address") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	_, err = a.peers.do(context.Background(), "http://localhost:"+port+"/", "GET", "chain", nil, 200, 1<<10, time.Second)
	if err == nil || !strings.Contains(err.Error(), "not allowed as a peer") {
		t.Fatalf("dialing localhost under a policy without loopback: %v", err)
	}

	// A node on loopback accepts loopback peers.
	lo, _ := NewPeerPolicy("127.0.0.1:8000", nil)
	if err := lo.check("http://127.0.0.1:9/"); err != nil {
		t.Fatal(err)
	}
	if err := lo.check("http://169.254.169.254/"); err == nil {
		t.Fatal("a loopback node accepts a link-local peer")
	}
}

// Finding 6: a cap on peers, DELETE /peers/{url}, and the admin token.
func TestPeerAdmin(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.Peers = 2
	cfg.AdminToken = "s3cret"
	a := startNode(t, cfg, "")
	reg := func(token, addr string) (int, string) {
		req, _ := http.NewRequest("POST", a.url+"register_node", strings.NewReader(fmt.Sprintf(`{"node_address": %q}`, addr)))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := reg("", "http://127.0.0.1:9001/"); code != 401 || !strings.Contains(body, "admin token") {
		t.Fatalf("without the token: %d %q", code, body)
	}
	if code, _ := reg("wrong", "http://127.0.0.1:9001/"); code != 401 {
		t.Fatalf("with a wrong token: %d", code)
	}
	for _, p := range []string{"http://127.0.0.1:9001/", "http://127.0.0.1:9002/"} {
		if code, body := reg("s3cret", p); code != 200 {
			t.Fatalf("register %s: %d %q", p, code, body)
		}
	}
	if code, body := reg("s3cret", "http://127.0.0.1:9003/"); code != 503 || !strings.Contains(body, "peer list is full") {
		t.Fatalf("past the cap: %d %q", code, body)
	}
	del := func(token, peer string) int {
		req, _ := http.NewRequest("DELETE", a.url+"peers/"+url.PathEscape(peer), nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := del("", "http://127.0.0.1:9001/"); code != 401 {
		t.Fatalf("DELETE without the token: %d", code)
	}
	if code := del("s3cret", "http://127.0.0.1:9001"); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	if code := del("s3cret", "http://127.0.0.1:9001/"); code != 404 {
		t.Fatalf("DELETE of a peer already removed: %d", code)
	}
	if got := a.Peers(); len(got) != 1 || got[0] != "http://127.0.0.1:9002/" {
		t.Fatalf("peers after DELETE: %v", got)
	}
	// The removal is durable.
	a.stop()
	b := openTest(t, a.cfg)
	if got := b.Peers(); len(got) != 1 {
		t.Fatalf("peers after a restart: %v", got)
	}
}

// Finding 7: a peer that lists thousands of URLs teaches the node only a
// few, and the introductions run on a bounded pool.
func TestLearnedPeersAreCapped(t *testing.T) {
	var urls []string
	for i := range 2500 {
		urls = append(urls, fmt.Sprintf("http://127.0.%d.%d:%d/", i/250, i%250+1, 1000+i))
	}
	g := engine.Genesis()
	var calls atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		d, _ := engine.EncodeDump([]*engine.Block{g}, urls)
		w.Write(d)
	}))
	defer peer.Close()
	cfg := testConfig(t, "")
	cfg.PeerTimeout = 200 * time.Millisecond
	a := startNode(t, cfg, "")
	before := runtime.NumGoroutine()
	want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, peer.URL), 200, "Registration successful")
	if n := len(a.Peers()); n > maxLearned+1 {
		t.Fatalf("%d peers learned from one registration", n)
	}
	if g := runtime.NumGoroutine(); g > before+40 {
		t.Fatalf("%d goroutines after learning, %d before", g, before)
	}
}

// Finding 8: a slow peer delays nobody: a longer chain from a fast peer
// is adopted while the slow one still hangs, and a failing peer backs off.
func TestSlowPeerDoesNotDelaySync(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.PeerTimeout = 2 * time.Second
	a := openTest(t, cfg)
	g := engine.Genesis()
	b1 := mineOn(t, g, a.Target(), tx("a", "1"))
	release := make(chan struct{})
	var slowCalls atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowCalls.Add(1)
		w.WriteHeader(200)
		io.WriteString(w, `{"length": 2, "chain": [`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, dumpOf(t, g, b1)) }))
	defer fast.Close()
	if _, err := a.AddPeers(slow.URL, fast.URL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := a.Sync(context.Background()); done <- err }()
	waitFor(t, 5*time.Second, "the fast peer's chain", func() bool { return a.Len() == 2 })
	select {
	case <-done:
		t.Fatal("Sync returned before the slow peer's deadline")
	default:
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The slow peer failed (no data for the peer timeout): the next round
	// skips it.
	n := slowCalls.Load()
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if slowCalls.Load() != n {
		t.Fatal("a peer that just failed was asked again at once")
	}
	var h peerHealth
	now := time.Now()
	var pauses []time.Duration
	for range 12 {
		h.failed("p", now, time.Second)
		pauses = append(pauses, h.fails["p"].until.Sub(now))
	}
	if pauses[0] != time.Second || pauses[1] != 2*time.Second || pauses[2] != 4*time.Second || pauses[11] != maxBackoff {
		t.Fatalf("back-off pauses %v", pauses)
	}
	if due := h.due([]string{"p", "q"}, now); len(due) != 1 || due[0] != "q" {
		t.Fatalf("due: %v", due)
	}
}

// Finding 9: bad peer URLs get 400 with the reason, never 500.
func TestBadPeerURLs(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	for in, msg := range map[string]string{
		`http://127.0.0.1:9/%00`:     "the path has the character",
		`http://127.0.0.1:9/%0d%0a`:  "the path has the character",
		`http://127.0.0.1:9/%3F`:     "the path has the character '?'",
		`http://127.0.0.1:9/%23`:     "the path has the character '#'",
		`http://127.0.0.1:9/%7F`:     "the path has the character",
		`http://127.0.0.1:99999/`:    "port 99999 is out of the range 1-65535",
		`http://127.0.0.1:0/`:        "port 0 is out of the range",
		`http://127.0.0.1:/`:         "port after the colon is missing",
		`http://bad_host!/`:          "is not a host name or an IP address",
		`http://a..b/`:               "not a host name",
		"http://127.0.0.1:9/\u0000x": "control character",
	} {
		b, _ := json.Marshal(map[string]string{"node_address": in})
		want(t, "POST", a.url+"register_node", string(b), 400, msg)
	}
	if p := a.Peers(); len(p) != 0 {
		t.Fatalf("bad URLs were stored: %v", p)
	}
}

// Finding 10: a Content-Length over the limit is refused on the header,
// without waiting for a body.
func TestContentLengthRefusedAtOnce(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	for _, size := range []int{65 << 10, 200 << 10, 1 << 20} {
		conn, err := net.Dial("tcp", a.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /new_transaction HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("Content-Length %d: no answer before any body byte: %v", size, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(body), "over the limit") {
			t.Fatalf("Content-Length %d: %d %q", size, resp.StatusCode, body)
		}
	}
}

// Also: 415 where the reference client sends JSON.
func TestContentType(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	post := func(path, ct, enc, body string) (int, string) {
		req, _ := http.NewRequest("POST", a.url+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	txb := `{"author": "a", "content": "c"}`
	for _, c := range []struct {
		path, ct, enc string
		code          int
	}{
		{"new_transaction", "application/json", "", 201},
		{"new_transaction", "application/json; charset=utf-8", "", 201},
		{"new_transaction", "", "", 415},
		{"new_transaction", "text/plain", "", 415},
		{"new_transaction", "application/x-www-form-urlencoded", "", 415},
		{"new_transaction", "application/json", "gzip", 415},
		{"register_node", "text/plain", "", 415},
		{"register_with", "", "", 415},
		{"add_block", "", "", 400}, // reference peers may send no type: read
		{"add_block", "text/html", "", 415},
	} {
		body := txb
		if c.path != "new_transaction" {
			body = `{}`
		}
		if code, msg := post(c.path, c.ct, c.enc, body); code != c.code || (code == 415 && !strings.Contains(msg, "Content-")) {
			t.Errorf("POST /%s type %q encoding %q: %d %q, want %d", c.path, c.ct, c.enc, code, msg, c.code)
		}
	}
}

// Also: per-client rate limits on the mutating endpoints.
func TestRateLimit(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.RateLimit, cfg.RateBurst, cfg.RateLoopback = 0.5, 3, true
	a := startNode(t, cfg, "")
	codes := map[int]int{}
	for i := range 6 {
		code, _, _ := call(t, "POST", a.url+"new_transaction", fmt.Sprintf(`{"author": "a", "content": "%d"}`, i))
		codes[code]++
	}
	if codes[201] != 3 || codes[429] != 3 {
		t.Fatalf("statuses %v, want 3 x 201 and 3 x 429", codes)
	}
	want(t, "GET", a.url+"health", "", 200, "ok") // reads are not limited
	// Off for loopback by default, unless through a trusted proxy.
	l := newRateLimiter(0.5, 1, false)
	lo4, lo6, remote := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("192.0.2.1")
	for range 5 {
		if !l.allow(lo4, true, time.Now()) || !l.allow(lo6, true, time.Now()) {
			t.Fatal("a loopback client was limited")
		}
	}
	if !l.allow(remote, true, time.Now()) || l.allow(remote, true, time.Now()) {
		t.Fatal("a remote client was not limited")
	}
	if !l.allow(lo4, false, time.Now()) || l.allow(lo4, false, time.Now()) {
		t.Fatal("a loopback client through a trusted proxy was not limited")
	}
}

// Also: a zero target asks for no proof of work and is refused.
func TestZeroTargetRefused(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Target = hasher.Target{}
	if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "0 bits") {
		t.Fatalf("Open with a zero target: %v", err)
	}
}

// syncBuf is a buffer a logger writes to from several goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
