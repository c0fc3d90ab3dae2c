package node

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// network starts k nodes and registers them with each other: each one
// registers with the first, learns the others from its peer list and
// registers with them in turn.
func network(t *testing.T, k int, auto bool) []*tnode {
	t.Helper()
	nodes := make([]*tnode, k)
	for i := range nodes {
		cfg := testConfig(t, "")
		cfg.AutoMine = auto
		nodes[i] = startNode(t, cfg, "")
	}
	for _, n := range nodes[1:] {
		want(t, "POST", n.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, strings.TrimSuffix(nodes[0].url, "/")), 200, "Registration successful")
	}
	waitFor(t, 10*time.Second, "every node to know every other", func() bool {
		for _, n := range nodes {
			if len(n.Peers()) != k-1 {
				return false
			}
		}
		return true
	})
	for _, n := range nodes {
		if slices.Contains(n.Peers(), n.url) {
			t.Fatalf("%s lists itself as a peer", n.url)
		}
	}
	return nodes
}

// converged waits until every node has the same tip and returns the chain.
func converged(t *testing.T, nodes []*tnode) []*engine.Block {
	t.Helper()
	var chain []*engine.Block
	waitFor(t, 15*time.Second, "the nodes to converge", func() bool {
		chain = chainOf(t, nodes[0].url)
		for _, n := range nodes[1:] {
			if tip(chainOf(t, n.url)) != tip(chain) {
				return false
			}
		}
		return true
	})
	return chain
}

func TestThreeNodesConverge(t *testing.T) {
	nodes := network(t, 3, false)

	// Each mines in turn and announces: all follow at once.
	for i, n := range nodes {
		n.postTx(t, "n", fmt.Sprint("turn ", i))
		want(t, "GET", n.url+"mine", "", 200, fmt.Sprintf("Block #%d is mined.", i+1))
		for _, m := range nodes {
			if got := chainOf(t, m.url); len(got) != i+2 {
				t.Fatalf("after node %d mined, %s has %d blocks, want %d", i, m.url, len(got), i+2)
			}
		}
	}

	// All mine at once: their blocks compete for the same height. One more
	// block settles it, and the losers' transactions return to their pools.
	var wg sync.WaitGroup
	for i, n := range nodes {
		n.postTx(t, "n", fmt.Sprint("race ", i))
		wg.Go(func() { call(t, "GET", n.url+"mine", "") })
	}
	wg.Wait()
	nodes[0].postTx(t, "n", "settle")
	want(t, "GET", nodes[0].url+"mine", "", 200, "is mined.")
	chain := converged(t, nodes)
	if len(chain) < 6 {
		t.Fatalf("converged on %d blocks, want at least 6", len(chain))
	}

	// Every transaction is on the chain or back in its node's pool; mining
	// the pools puts them all on the one chain. A node serves the new
	// chain from a switch's commit point on, and the replaced blocks'
	// transactions return to its pool at the end of the switch's move, so
	// wait for that (a transaction in neither for good is lost).
	var all []string
	for i := range nodes {
		all = append(all, fmt.Sprint("turn ", i), fmt.Sprint("race ", i))
	}
	all = append(all, "settle")
	var got []string
	defer func() {
		if t.Failed() {
			t.Logf("chain and pools hold %v, want %v", got, all)
		}
	}()
	waitFor(t, 15*time.Second, "every transaction on the chain or in its node's pool", func() bool {
		got = contents(chainOf(t, nodes[0].url))
		for _, n := range nodes {
			got = append(got, pendingContents(n.Node)...)
		}
		return sameStrings(got, all)
	})
	for _, n := range nodes {
		if len(n.Pending()) > 0 {
			want(t, "GET", n.url+"mine", "", 200, "is mined.")
		}
	}
	chain = converged(t, nodes)
	if !sameStrings(contents(chain), all) {
		t.Fatalf("final chain holds %v, want %v", contents(chain), all)
	}
}

func TestAutoMiningNodesConverge(t *testing.T) {
	nodes := network(t, 3, true)
	var all []string
	for r := range 5 {
		for i, n := range nodes {
			c := fmt.Sprintf("auto %d/%d", r, i)
			n.postTx(t, "n", c)
			all = append(all, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Settle ties: one more block from one node until everyone agrees.
	var chain []*engine.Block
	waitFor(t, 20*time.Second, "the pools to drain onto one chain", func() bool {
		for _, n := range nodes {
			if len(n.Pending()) > 0 {
				return false
			}
		}
		chain = chainOf(t, nodes[0].url)
		for _, n := range nodes[1:] {
			if tip(chainOf(t, n.url)) != tip(chain) {
				nodes[0].postTx(t, "n", "tie breaker")
				all = append(all, "tie breaker")
				time.Sleep(50 * time.Millisecond)
				return false
			}
		}
		// The chains are read one after the other, after the pools: a
		// node may have left a block between the two reads, its
		// transactions back in its pool. Read the pools again, then the
		// tips: a transaction on none of the chains read above is still
		// pending now, or its node mined it since and its tip moved.
		for _, n := range nodes {
			if len(n.Pending()) > 0 || tip(n.Blocks()) != tip(chain) {
				return false
			}
		}
		return true
	})
	if !sameStrings(contents(chain), all) {
		t.Fatalf("chain holds %d transactions, want the %d posted, each once", len(contents(chain)), len(all))
	}
}

func TestNodeThatWasDownCatchesUp(t *testing.T) {
	nodes := network(t, 3, false)
	a, b, c := nodes[0], nodes[1], nodes[2]
	c.postTx(t, "c", "pending on c while it is down")
	c.stop()

	for i, n := range []*tnode{a, b, a} {
		n.postTx(t, "n", fmt.Sprint("while c is down ", i))
		want(t, "GET", n.url+"mine", "", 200, "is mined.")
	}
	want := chainOf(t, a.url)

	// c comes back on the same address and data dir: its stored peers give
	// it the longer chain at start.
	c2 := startNode(t, c.cfg, c.addr)
	waitFor(t, 10*time.Second, "c to catch up", func() bool { return tip(c2.Blocks()) == tip(want) })
	if got := pendingContents(c2.Node); !slices.Equal(got, []string{"pending on c while it is down"}) {
		t.Fatalf("c's pool after catching up: %v", got)
	}
	// And it takes part again: its block reaches the others.
	wantMine(t, c2.url)
	converged(t, []*tnode{a, b, c2})
}

func wantMine(t *testing.T, url string) { want(t, "GET", url+"mine", "", 200, "is mined.") }

// TestPeerWithInvalidChainIsRefused registers with a peer that answers
// with a tampered chain, longer than ours: it is refused with the rule
// named, and our chain and peers are unchanged. A valid answer is adopted.
func TestPeerWithInvalidChainIsRefused(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	a.postTx(t, "a", "ours")
	wantMine(t, a.url)
	before := string(a.ChainJSON())

	// A longer valid chain, and a copy with a transaction rewritten.
	g := engine.Genesis()
	b1 := mineOn(t, g, a.Target(), tx("p", "one"))
	b2 := mineOn(t, b1, a.Target(), tx("p", "two"))
	b3 := mineOn(t, b2, a.Target(), tx("p", "three"))
	dump := func(bs ...*engine.Block) string {
		d, _ := engine.EncodeDump(bs, nil)
		return string(d)
	}
	forged := *b2
	forged.Transactions = []pyjson.Value{tx("p", "rewritten")}
	var answer string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, answer)
	}))
	defer peer.Close()
	register := fmt.Sprintf(`{"node_address": %q}`, peer.URL)

	answer = dump(g, b1, &forged, b3)
	want(t, "POST", a.url+"register_with", register, 502, "block 2: hash:")
	answer = dump(g, b1, b3)
	want(t, "POST", a.url+"register_with", register, 502, "block 3: index")
	answer = `{"length": 1, "chain": [{"index": 0, "transactions": [], "timestamp": 1, "previous_hash": "0", "nonce": 0, "hash": "x"}]}`
	want(t, "POST", a.url+"register_with", register, 502, "genesis")
	if string(a.ChainJSON()) != before || len(a.Peers()) != 0 {
		t.Fatal("an invalid chain changed the node")
	}

	// The same peer with its valid chain: adopted, our block's transaction
	// back in the pool.
	answer = dump(g, b1, b2, b3)
	want(t, "POST", a.url+"register_with", register, 200, "Registration successful")
	if tip(a.Blocks()) != b3.Hash || !slices.Equal(pendingContents(a.Node), []string{"ours"}) {
		t.Fatalf("after a valid longer chain: tip %s, pending %v", tip(a.Blocks()), pendingContents(a.Node))
	}
}
