package node

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// TestMain fails the run when goroutines outlive the tests: every node a
// test starts must be stopped and closed.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	// The fuzzing engine keeps goroutines of its own.
	if f := flag.Lookup("test.fuzz"); code == 0 && (f == nil || f.Value.String() == "") {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > base {
			fmt.Fprintf(os.Stderr, "goroutine leak: %d goroutines at the end, %d at the start\n", n, base)
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			code = 1
		}
	}
	os.Exit(code)
}

// target2 is the reference node's difficulty: 2 hex zeros.
func target2(t testing.TB) hasher.Target {
	t.Helper()
	tg, err := engine.Difficulty(2)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// testLogger logs warnings (everything with POWCHAIN_TEST_LOG=debug) to
// the test's output.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("POWCHAIN_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// testConfig is a node config for tests: difficulty 2, one mining worker,
// no periodic sync, short peer timeouts.
func testConfig(t testing.TB, dir string) Config {
	if dir == "" {
		dir = t.TempDir()
	}
	return Config{
		DataDir:      dir,
		Target:       target2(t),
		Miner:        engine.NewMiner(nil, 1),
		Logger:       testLogger(t),
		SyncInterval: -1,
		PeerTimeout:  2 * time.Second,
	}
}

// openTest opens a node that is not running; it is closed at cleanup.
func openTest(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// tnode is a node running on a loopback port.
type tnode struct {
	*Node
	t      testing.TB
	url    string // base URL, with a trailing slash
	addr   string
	cfg    Config
	cancel context.CancelFunc
	done   chan error
}

// startNode runs a node on addr ("" for a free loopback port) until the
// test ends or stop is called.
func startNode(t testing.TB, cfg Config, addr string) *tnode {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdvertiseURL = "http://" + ln.Addr().String() + "/"
	n, err := Open(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &tnode{Node: n, t: t, url: cfg.AdvertiseURL, addr: ln.Addr().String(), cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- n.Run(ctx, ln) }()
	t.Cleanup(tn.stop)
	return tn
}

// stop shuts the node down and closes its store; it may be called twice.
func (tn *tnode) stop() {
	if tn.cancel == nil {
		return
	}
	tn.cancel()
	tn.cancel = nil
	select {
	case err := <-tn.done:
		if err != nil {
			tn.t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		tn.t.Errorf("node %s did not stop in 15s", tn.url)
	}
	if err := tn.Close(); err != nil {
		tn.t.Errorf("Close: %v", err)
	}
}

// client is the tests' HTTP client; it keeps no idle connections, so
// nothing outlives a test.
var client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// call sends a request and returns the status, body and content type.
func call(t testing.TB, method, url, body string) (int, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data), resp.Header.Get("Content-Type")
}

// want checks a request's status and that its body contains substr.
func want(t testing.TB, method, url, body string, status int, substr string) string {
	t.Helper()
	code, got, _ := call(t, method, url, body)
	if code != status || !strings.Contains(got, substr) {
		t.Fatalf("%s %s %.80q: got %d %q, want %d with %q", method, url, body, code, got, status, substr)
	}
	return got
}

// postTx posts a transaction and fails the test unless it gets 201.
func (tn *tnode) postTx(t testing.TB, author, content string) {
	t.Helper()
	want(t, "POST", tn.url+"new_transaction", fmt.Sprintf(`{"author": %q, "content": %q}`, author, content), 201, "Success")
}

// chainOf fetches and validates a node's /chain.
func chainOf(t testing.TB, url string) []*engine.Block {
	t.Helper()
	_, body, _ := call(t, "GET", url+"chain", "")
	d, err := engine.DecodeDump([]byte(body))
	if err != nil {
		t.Fatalf("%s/chain: %v", url, err)
	}
	if err := engine.ValidateChain(d.Blocks, target2(t)); err != nil {
		t.Fatalf("%s/chain is invalid: %v", url, err)
	}
	return d.Blocks
}

// tip returns the hash of a chain's last block.
func tip(bs []*engine.Block) string { return bs[len(bs)-1].Hash }

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitProgress waits until cond holds, as long as progress keeps
// growing: it fails when progress has not grown for stall, or after
// limit in all. For work whose speed depends on the machine's load.
func waitProgress(t testing.TB, stall, limit time.Duration, what string, progress func() int, cond func() bool) {
	t.Helper()
	start := time.Now()
	last, lastAt := progress(), start
	for !cond() {
		now := time.Now()
		if p := progress(); p != last {
			last, lastAt = p, now
		}
		if now.Sub(lastAt) > stall {
			t.Fatalf("waiting for %s: no progress in %v (at %d)", what, stall, last)
		}
		if now.Sub(start) > limit {
			t.Fatalf("waiting for %s: not done after %v (at %d)", what, limit, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// contents returns the "content" of every transaction of the blocks.
func contents(bs []*engine.Block) []string {
	var out []string
	for _, b := range bs {
		for _, tx := range b.Transactions {
			if o, ok := tx.(pyjson.Object); ok {
				if s, ok := o["content"].(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// pendingContents returns the "content" of every pending transaction.
func pendingContents(n *Node) []string {
	return contents([]*engine.Block{{Transactions: n.Pending()}})
}

// mineOn mines a block with txs on top of prev at the node target, as a
// peer would, and returns it.
func mineOn(t testing.TB, prev *engine.Block, target hasher.Target, txs ...pyjson.Value) *engine.Block {
	t.Helper()
	if txs == nil {
		txs = []pyjson.Value{}
	}
	tpl := &engine.Block{Index: prev.Index + 1, Transactions: txs, Timestamp: now(), PreviousHash: prev.Hash}
	b, _, err := engine.MineBlock(context.Background(), engine.NewMiner(nil, 1), tpl, target)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tx makes a transaction value as a client would send it, stamped.
func tx(author, content string) pyjson.Object {
	return pyjson.Object{"author": author, "content": content, "timestamp": now()}
}

// wire returns a block's wire JSON.
func wire(t testing.TB, b *engine.Block) string {
	t.Helper()
	w, err := b.MarshalWire()
	if err != nil {
		t.Fatal(err)
	}
	return string(w)
}

// sameStrings reports whether two string slices hold the same multiset.
func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
		if m[s] < 0 {
			return false
		}
	}
	return true
}
