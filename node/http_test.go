package node

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

func TestTransactionsMinedIntoChain(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	want(t, "GET", a.url+"mine", "", 200, "No transactions to mine")
	a.postTx(t, "alice", "first post")
	want(t, "POST", a.url+"new_transaction", `{"author": "bob", "content": "second", "tags": ["x"], "timestamp": "ignored"}`, 201, "Success")

	code, body, ctype := call(t, "GET", a.url+"pending_tx", "")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("/pending_tx: %d %s", code, ctype)
	}
	v, err := pyjson.Decode([]byte(body))
	if err != nil || len(v.([]pyjson.Value)) != 2 {
		t.Fatalf("/pending_tx: %v %s", err, body)
	}
	second := v.([]pyjson.Value)[1].(pyjson.Object)
	if _, ok := second["timestamp"].(pyjson.Float); !ok || len(second["tags"].([]pyjson.Value)) != 1 {
		t.Fatalf("the node must set timestamp to a float and keep other keys: %v", second)
	}

	want(t, "GET", a.url+"mine", "", 200, "Block #1 is mined.")
	want(t, "POST", a.url+"mine", "", 200, "No transactions to mine")
	chain := chainOf(t, a.url)
	if len(chain) != 2 || !slices.Equal(contents(chain), []string{"first post", "second"}) {
		t.Fatalf("chain: %d blocks with %v", len(chain), contents(chain))
	}
	want(t, "GET", a.url+"pending_tx", "", 200, "[]")

	code, body, ctype = call(t, "GET", a.url+"chain", "")
	if code != 200 || ctype != "application/json" || !strings.HasPrefix(body, `{"length": 2, "chain": [`) || !strings.HasSuffix(body, `"peers": []}`) {
		t.Fatalf("/chain: %d %s %.60s", code, ctype, body)
	}
	body = want(t, "GET", a.url+"health", "", 200, `"status":"ok"`)
	if !strings.Contains(body, `"length":2`) || !strings.Contains(body, `"pending":0`) {
		t.Fatalf("/health: %s", body)
	}
	body = want(t, "GET", a.url+"metrics", "", 200, "powchain_blocks_mined_total 1")
	for _, m := range []string{"powchain_hashes_total", "powchain_hash_rate", "powchain_chain_height 1",
		"powchain_pending_transactions 0", "powchain_peers 0", "powchain_transactions_total 2", "go_goroutines"} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
}

func TestBadRequests(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.TxBytes = 1024
	a := startNode(t, cfg, "")
	u := a.url
	for _, c := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "new_transaction", ``, 415, "Content-Type must be application/json"},
		{"POST", "new_transaction", `{"author": "a", "content": "c"`, 400, "not valid JSON"},
		{"POST", "new_transaction", `{"author": "a", "content": "c"} x`, 400, "not valid JSON"},
		{"POST", "new_transaction", `[1]`, 400, "want a JSON object"},
		{"POST", "new_transaction", `{"content": "c"}`, 400, `field "author": missing`},
		{"POST", "new_transaction", `{"author": "a", "content": ""}`, 400, `field "content": is empty`},
		{"POST", "new_transaction", `{"author": 1, "content": "c"}`, 400, `field "author": want a non-empty string, got an integer`},
		{"POST", "new_transaction", `{"author": "a", "content": "` + strings.Repeat("x", 2000) + `"}`, 413, "over the limit of 1024 bytes"},
		{"GET", "new_transaction", ``, 405, ""},
		{"DELETE", "chain", ``, 405, ""},
		{"GET", "nowhere", ``, 404, ""},
		{"POST", "register_node", `{}`, 400, `field "node_address": missing`},
		{"POST", "register_node", `{"node_address": ""}`, 400, `"node_address": is empty`},
		{"POST", "register_node", `{"node_address": 5}`, 400, "want a URL string"},
		{"POST", "register_node", `{"node_address": "ftp://h/"}`, 400, "want an http:// or https:// URL"},
		{"POST", "register_node", `{"node_address": "http://u:p@h/"}`, 400, "without user info"},
		{"POST", "register_node", `{"node_address": "` + u + `"}`, 400, "this node itself"},
		{"POST", "register_with", `{"node_address": "` + u + `"}`, 400, "this node itself"},
		{"POST", "register_with", `{"node_address": "javascript:alert(1)"}`, 400, "http://"},
		{"POST", "add_block", `{"index": 1}`, 400, `field "transactions": missing`},
		{"POST", "add_block", `{"index": "1", "transactions": [], "timestamp": 1, "previous_hash": "0", "nonce": 0}`, 400, `field "index": want an integer`},
		{"POST", "add_block", `nope`, 400, "not valid JSON"},
	} {
		code, body, _ := call(t, c.method, u+c.path, c.body)
		if code != c.status || !strings.Contains(body, c.msg) {
			t.Errorf("%s /%s %.40q: got %d %q, want %d with %q", c.method, c.path, c.body, code, body, c.status, c.msg)
		}
	}
	if n := a.Len(); n != 1 || len(a.Pending()) != 0 || len(a.Peers()) != 0 {
		t.Fatalf("bad requests changed the node: %d blocks, %d pending, %d peers", n, len(a.Pending()), len(a.Peers()))
	}
	// The reference node's base + "/endpoint" with a trailing-slash base.
	want(t, "GET", strings.TrimSuffix(u, "/")+"//chain", "", 200, `"length": 1`)
}

func TestAddBlockOverHTTP(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	g := a.Blocks()[0]
	b1 := mineOn(t, g, a.Target(), tx("p", "peer block"))
	want(t, "POST", a.url+"add_block", wire(t, b1), 201, "Block added to the chain")
	want(t, "POST", a.url+"add_block", wire(t, b1), 200, "already in the chain")
	before := string(a.ChainJSON())

	tampered := mineOn(t, b1, a.Target(), tx("p", "x"))
	tampered.Transactions = []pyjson.Value{tx("p", "y")}
	want(t, "POST", a.url+"add_block", wire(t, tampered), 400, "breaks rule hash")
	fork := mineOn(t, g, a.Target(), tx("p", "fork"))
	want(t, "POST", a.url+"add_block", wire(t, fork), 409, "block 1 breaks rule index")
	unlinked := mineOn(t, &engine.Block{Index: 1, Hash: strings.Repeat("0", 64)}, a.Target())
	want(t, "POST", a.url+"add_block", wire(t, unlinked), 409, "breaks rule previous_hash")
	noHash := mineOn(t, b1, a.Target())
	noHash.Hash = ""
	want(t, "POST", a.url+"add_block", wire(t, noHash), 400, "breaks rule hash")
	if string(a.ChainJSON()) != before {
		t.Fatal("refused blocks changed the chain")
	}
	want(t, "GET", a.url+"metrics", "", 200, `powchain_blocks_rejected_total{rule="hash"} 2`)
}

func TestRegisterWithUnreachablePeer(t *testing.T) {
	// The peers below that answer get the test config's peer timeout, so
	// that a loaded machine's slow answer is not taken for a hung peer;
	// the peer that never answers is asked by a node with a short one.
	a := startNode(t, testConfig(t, ""), "")
	cfg := testConfig(t, "")
	cfg.PeerTimeout = 300 * time.Millisecond
	impatient := startNode(t, cfg, "")

	// A closed port: 502 at once.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	start := time.Now()
	want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": "http://%s"}`, closed), 502, "connection refused")
	if d := time.Since(start); d > time.Second {
		t.Errorf("502 took %v", d)
	}

	// A peer that accepts and never answers: 504 after the peer timeout.
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang)
	start = time.Now()
	want(t, "POST", impatient.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, slow.URL), 504, "no answer in time")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("504 took %v with a peer timeout of %v", d, cfg.PeerTimeout)
	}

	// A peer that answers something else than a chain: 502 saying so.
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/register_node" {
			fmt.Fprint(w, `{"length": 1, "chain": [{"index": 0}]}`)
		}
	}))
	defer junk.Close()
	want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, junk.URL), 502, `transactions": missing`)
	gone := httptest.NewServer(http.NotFoundHandler())
	defer gone.Close()
	want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, gone.URL), 502, "answered 404")
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat(" ", 300<<10)))
	}))
	defer huge.Close()
	a.Node.cfg.Limits.ChainBytes = 256 << 10
	want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, huge.URL), 502, "over the limit")
	if len(a.Peers()) != 0 || len(impatient.Peers()) != 0 {
		t.Fatalf("failed registrations added peers: %v, %v", a.Peers(), impatient.Peers())
	}
}

func TestNormalizePeer(t *testing.T) {
	for in, out := range map[string]string{
		"http://127.0.0.1:8000":       "http://127.0.0.1:8000/",
		"http://127.0.0.1:8000/":      "http://127.0.0.1:8000/",
		" HTTP://LocalHost:8000// ":   "http://localhost:8000/",
		"http://example.com:80/":      "http://example.com/",
		"https://example.com:443":     "https://example.com/",
		"https://example.com:8443/a/": "https://example.com:8443/a/",
		"http://h/a/../b":             "http://h/b/",
		"http://[::1]:8000":           "http://[::1]:8000/",
	} {
		got, err := NormalizePeer(in)
		if err != nil || got != out {
			t.Errorf("NormalizePeer(%q) = %q, %v; want %q", in, got, err, out)
		}
	}
	for _, in := range []string{"", "127.0.0.1:8000", "ftp://h/", "http://", "http:///x", "http://h/?q=1", "http://h/#f", "http://u@h/", "mailto:a@b", "http://h:port/"} {
		if got, err := NormalizePeer(in); err == nil {
			t.Errorf("NormalizePeer(%q) = %q, want an error", in, got)
		}
	}
}

// TestMessagesWithoutPackageNames: what a client reads says what was wrong
// with its input or its peer's answer, in the words of the API, never the
// name of the Go package that noticed it ("pyjson: ", "engine: ").
var packageName = regexp.MustCompile(`(^|: )(pyjson|engine|node): `)

func TestMessagesWithoutPackageNames(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"length": 2, "chain": [{"index": 0}], "peers": []}`)
	}))
	defer peer.Close()
	a := startNode(t, testConfig(t, ""), "")
	for _, c := range []struct {
		path, body string
		status     int
		msg        string
	}{
		{"new_transaction", `{"author": "a", "content": "c"`, 400, "not valid JSON: expecting ',' delimiter at offset 30"},
		{"new_transaction", "{\"author\": \"a\", \"content\": \"\xff\"}", 400, "not valid JSON: invalid UTF-8 at offset"},
		{"add_block", `{"index": 1,}`, 400, "not valid JSON: "},
		{"register_node", `{"node_address": 1 2}`, 400, "not valid JSON: "},
		{"register_with", `{"node_address": "` + peer.URL + `"}`, 502, `its answer is not a valid chain dump: field "chain[0].transactions": missing`},
	} {
		code, body, _ := call(t, "POST", a.url+c.path, c.body)
		if code != c.status || !strings.Contains(body, c.msg) {
			t.Errorf("POST /%s %.40q: got %d %q, want %d with %q", c.path, c.body, code, body, c.status, c.msg)
		}
		if p := packageName.FindString(body); p != "" {
			t.Errorf("POST /%s %.40q: %q names a Go package (%q)", c.path, c.body, body, p)
		}
	}
}
