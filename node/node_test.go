package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

func TestMineTakesThePool(t *testing.T) {
	n := openTest(t, testConfig(t, ""))
	for i := range 3 {
		if _, err := n.AddTransaction(pyjson.Object{"author": "a", "content": fmt.Sprint("c", i), "extra": pyjson.Int("7")}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := n.Mine(context.Background())
	if err != nil || b == nil {
		t.Fatalf("Mine: %v, %v", b, err)
	}
	if b.Index != 1 || len(b.Transactions) != 3 || n.Len() != 2 || len(n.Pending()) != 0 {
		t.Fatalf("block %d with %d txs, chain %d, pending %d", b.Index, len(b.Transactions), n.Len(), len(n.Pending()))
	}
	if got := contents([]*engine.Block{b}); !slices.Equal(got, []string{"c0", "c1", "c2"}) {
		t.Fatalf("transactions out of order: %v", got)
	}
	if o := b.Transactions[0].(pyjson.Object); o["extra"] != pyjson.Int("7") {
		t.Fatalf("extra key lost: %v", o)
	}
	if err := engine.ValidateChain(n.Blocks(), n.Target()); err != nil {
		t.Fatal(err)
	}
	if b, err := n.Mine(context.Background()); b != nil || err != nil {
		t.Fatalf("Mine on an empty pool: %v, %v", b, err)
	}
}

func TestMineRespectsBlockLimits(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.BlockTxs = 2
	n := openTest(t, cfg)
	for i := range 5 {
		n.AddTransaction(pyjson.Object{"author": "a", "content": fmt.Sprint(i)})
	}
	var sizes []int
	for {
		b, err := n.Mine(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		sizes = append(sizes, len(b.Transactions))
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Fatalf("block sizes %v, want [2 2 1]", sizes)
	}
}

func TestTransactionTimestampsAreUniqueAndIncreasing(t *testing.T) {
	n := openTest(t, testConfig(t, ""))
	var mu sync.Mutex
	seen := map[pyjson.Float]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				ts := n.txTimestamp()
				mu.Lock()
				if seen[ts] {
					t.Errorf("timestamp %v given twice", ts)
				}
				seen[ts] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestCheckTransaction(t *testing.T) {
	for _, c := range []struct {
		in    string
		field string
	}{
		{`[]`, ""},
		{`"x"`, ""},
		{`{"content": "c"}`, "author"},
		{`{"author": "a"}`, "content"},
		{`{"author": "", "content": "c"}`, "author"},
		{`{"author": "a", "content": 5}`, "content"},
		{`{"author": null, "content": "c"}`, "author"},
	} {
		v, err := pyjson.Decode([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		_, err = CheckTransaction(v)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("%s: got %v, want an InputError on field %q", c.in, err, c.field)
		}
	}
}

func TestAddBlockFromPeer(t *testing.T) {
	a := openTest(t, testConfig(t, ""))
	stamped, err := a.AddTransaction(pyjson.Object{"author": "a", "content": "mine and theirs"})
	if err != nil {
		t.Fatal(err)
	}
	a.AddTransaction(pyjson.Object{"author": "a", "content": "only mine"})
	g := a.Blocks()[0]

	// A peer's block holding one of our pending transactions: it is
	// appended and the transaction leaves the pool.
	b1 := mineOn(t, g, a.Target(), stamped, tx("p", "theirs"))
	if err := a.AddBlock(b1); err != nil {
		t.Fatal(err)
	}
	if got := pendingContents(a); !slices.Equal(got, []string{"only mine"}) {
		t.Fatalf("pending after the peer's block: %v", got)
	}
	if err := a.AddBlock(b1); !errors.Is(err, ErrKnownBlock) {
		t.Fatalf("the same block again: %v, want ErrKnownBlock", err)
	}

	// Broken blocks are refused with the rule named and change nothing.
	before := a.ChainJSON()
	tampered := mineOn(t, b1, a.Target(), tx("p", "x"))
	tampered.Transactions = []pyjson.Value{tx("p", "changed after mining")}
	stale := mineOn(t, g, a.Target(), tx("p", "on genesis"))
	far := mineOn(t, mineOn(t, b1, a.Target()), a.Target())
	easy := &engine.Block{Index: 2, Transactions: []pyjson.Value{}, Timestamp: pyjson.Int("1"), PreviousHash: b1.Hash}
	for easy.Hash = easy.ComputeHash(); easy.Hash[0] == '0' && easy.Hash[1] == '0'; easy.Hash = easy.ComputeHash() {
		easy.Nonce++
	}
	for _, c := range []struct {
		b    *engine.Block
		rule engine.Rule
	}{
		{tampered, engine.RuleHash},
		{stale, engine.RuleIndex},
		{far, engine.RuleIndex},
		{easy, engine.RuleDifficulty},
		{&engine.Block{Index: 2, Transactions: []pyjson.Value{}, Timestamp: pyjson.Int("1"), PreviousHash: "00ab"}, engine.RulePreviousHash},
	} {
		err := a.AddBlock(c.b)
		var re *engine.RuleError
		if !errors.As(err, &re) || re.Rule != c.rule {
			t.Errorf("block %d: got %v, want rule %s", c.b.Index, err, c.rule)
		}
	}
	if string(a.ChainJSON()) != string(before) {
		t.Fatalf("a refused block changed the chain:\n%s\n%s", before, a.ChainJSON())
	}
}

func TestAdoptReturnsOrphanedTransactions(t *testing.T) {
	a := openTest(t, testConfig(t, ""))
	b := openTest(t, testConfig(t, ""))
	shared, _ := a.AddTransaction(pyjson.Object{"author": "x", "content": "in both branches"})
	a.AddTransaction(pyjson.Object{"author": "x", "content": "only in a's block"})
	if _, err := a.Mine(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.AddTransaction(pyjson.Object{"author": "x", "content": "still pending in a"})

	// b's branch is longer and holds one of a's mined transactions.
	g := b.Blocks()[0]
	b1 := mineOn(t, g, b.Target(), shared, tx("y", "b1"))
	b2 := mineOn(t, b1, b.Target(), tx("y", "b2"))
	for _, blk := range []*engine.Block{b1, b2} {
		if err := b.AddBlock(blk); err != nil {
			t.Fatal(err)
		}
	}
	// Equal length: not adopted.
	if ok, err := a.Adopt(b.Blocks()[:2], "b"); ok || err != nil {
		t.Fatalf("adopting an equal-length chain: %v, %v", ok, err)
	}
	ok, err := a.Adopt(b.Blocks(), "b")
	if !ok || err != nil {
		t.Fatalf("Adopt: %v, %v", ok, err)
	}
	if tip(a.Blocks()) != b2.Hash {
		t.Fatal("a did not take b's chain")
	}
	got := pendingContents(a)
	if !sameStrings(got, []string{"only in a's block", "still pending in a"}) {
		t.Fatalf("pending after the reorganization: %v", got)
	}

	// The same holds after a restart: the change was one store transaction.
	want := string(a.ChainJSON())
	a.Close()
	a2 := openTest(t, a.cfg)
	if string(a2.ChainJSON()) != want || !sameStrings(pendingContents(a2), got) {
		t.Fatal("the store does not hold what memory held")
	}

	// An invalid chain is refused with its rule and changes nothing.
	bad := append([]*engine.Block(nil), b.Blocks()...)
	c := *bad[1]
	c.Transactions = []pyjson.Value{tx("evil", "rewritten")}
	bad[1] = &c
	bad = append(bad, mineOn(t, bad[2], b.Target()))
	_, err = a2.Adopt(bad, "evil")
	var re *engine.RuleError
	if !errors.As(err, &re) || re.Rule != engine.RuleHash || re.Position != 1 {
		t.Fatalf("adopting a tampered chain: %v", err)
	}
	if string(a2.ChainJSON()) != want {
		t.Fatal("a refused chain changed ours")
	}
}

// TestNewTipCancelsMining checks that mining never races an incoming
// block: the attempt in progress is cancelled and mining starts over on
// the new tip.
func TestNewTipCancelsMining(t *testing.T) {
	n := openTest(t, testConfig(t, ""))
	n.AddTransaction(pyjson.Object{"author": "a", "content": "ours"})
	started := make(chan *engine.Block, 1)
	var calls atomic.Int32
	mine := n.mineFunc
	n.mineFunc = func(ctx context.Context, b *engine.Block) (*engine.Block, engine.Result, error) {
		if calls.Add(1) == 1 {
			started <- b
			<-ctx.Done() // mining "forever", until a new tip
			return nil, engine.Result{}, fmt.Errorf("%w: %w", engine.ErrCanceled, context.Cause(ctx))
		}
		return mine(ctx, b)
	}
	type result struct {
		b   *engine.Block
		err error
	}
	done := make(chan result)
	go func() {
		b, err := n.Mine(context.Background())
		done <- result{b, err}
	}()
	first := <-started
	if first.Index != 1 {
		t.Fatalf("first attempt at index %d", first.Index)
	}
	peer := mineOn(t, n.Blocks()[0], n.Target(), tx("p", "theirs"))
	if err := n.AddBlock(peer); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.b.Index != 2 || r.b.PreviousHash != peer.Hash || calls.Load() != 2 {
		t.Fatalf("mined block %d on %s after %d attempts, want block 2 on the peer's block after 2", r.b.Index, r.b.PreviousHash, calls.Load())
	}
	if got := contents([]*engine.Block{r.b}); !slices.Equal(got, []string{"ours"}) {
		t.Fatalf("mined %v", got)
	}
	if err := engine.ValidateChain(n.Blocks(), n.Target()); err != nil {
		t.Fatal(err)
	}
}

// TestMiningAndPeerBlocksConcurrently lets the real miner and a stream of
// peer blocks meet: the chain stays valid and every transaction ends up
// in the chain or the pool exactly once.
func TestMiningAndPeerBlocksConcurrently(t *testing.T) {
	n := openTest(t, testConfig(t, ""))
	var all []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	// Stop the miner and the clients before the node closes, also when
	// the test fails early (cleanups run last registered first): a
	// goroutine failing after the test has ended panics the whole run.
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { // the miner
		for ctx.Err() == nil {
			if _, err := n.Mine(ctx); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() { // clients
		for i := range 300 {
			if ctx.Err() != nil {
				return
			}
			c := fmt.Sprint("client ", i)
			if _, err := n.AddTransaction(pyjson.Object{"author": "c", "content": c}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			all = append(all, c)
			mu.Unlock()
		}
	})
	for i := range 30 { // a peer extending whatever our tip is
		c := fmt.Sprint("peer ", i)
		bs := n.Blocks()
		if err := n.AddBlock(mineOn(t, bs[len(bs)-1], n.Target(), tx("p", c))); err == nil {
			mu.Lock()
			all = append(all, c)
			mu.Unlock()
		}
	}
	// Stop the miner once the clients are done and the pool is drained.
	// Every transaction is a durable write and most get a block of their
	// own, which under -race on a loaded machine can take a minute, so
	// the wait fails when the chain and the acknowledged transactions stop
	// growing for 20 s (a stuck miner or client), not after a fixed time.
	progress := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(all) + len(n.Blocks())
	}
	waitProgress(t, 20*time.Second, 5*time.Minute, "the pool to drain", progress, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(all) >= 300 && len(n.Pending()) == 0
	})
	cancel()
	wg.Wait()
	if err := engine.ValidateChain(n.Blocks(), n.Target()); err != nil {
		t.Fatal(err)
	}
	got := append(contents(n.Blocks()), pendingContents(n)...)
	if !sameStrings(got, all) {
		t.Fatalf("chain and pool hold %d transactions, want the %d acknowledged, each once", len(got), len(all))
	}
}
