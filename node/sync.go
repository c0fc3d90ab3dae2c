package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// Paged sync: how a powchain node catches up with a powchain peer.
const (
	// syncProbe is how many of the peer's latest hashes the first
	// request asks for: a peer that extends our chain answers with our
	// tip among them.
	syncProbe = 64
	// syncAttempts is how often a page is asked for before the sync from
	// that peer gives up (until the next round).
	syncAttempts = 5
	// syncBackoff is the wait before the first retry; it doubles.
	syncBackoff = 200 * time.Millisecond
	// syncLogEvery is how often a running sync logs its progress.
	syncLogEvery = 5 * time.Second
)

// errNotPaged is returned when a peer answers GET /headers with 404: it
// serves the reference protocol only (GET /chain).
var errNotPaged = errors.New("the peer does not serve GET /headers and /blocks")

// headers is a GET /headers answer.
type headers struct {
	from   int
	length int
	hashes [][32]byte
}

// retry calls f until it succeeds, fails for good or has failed
// syncAttempts times, waiting syncBackoff, then twice as long, between
// attempts. Only failures to reach the peer or get an answer in time, and
// 5xx answers, are tried again.
func (n *Node) retry(ctx context.Context, f func() error) error {
	wait := syncBackoff
	for attempt := 1; ; attempt++ {
		err := f()
		var pe *PeerError
		transient := errors.As(err, &pe) && (pe.Status == 0 || pe.Status >= 500) && !errors.Is(err, errNotPaged)
		if err == nil || !transient || attempt == syncAttempts || ctx.Err() != nil {
			return err
		}
		n.metrics.syncRetries.Inc()
		n.log.Debug("sync: retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// getObject asks a peer for a JSON object of at most limit bytes, within
// two peer timeouts.
func (n *Node) getObject(ctx context.Context, peer, endpoint string, limit int64) (pyjson.Object, error) {
	data, err := n.peers.do(ctx, peer, "GET", endpoint, nil, http.StatusOK, limit, 2*n.peers.timeout)
	var pe *PeerError
	if errors.As(err, &pe) && pe.Status == http.StatusNotFound {
		pe.Err = errNotPaged
		return nil, pe
	}
	if err != nil {
		return nil, err
	}
	if jsonDepth(data, maxDumpDepth) > maxDumpDepth {
		return nil, &PeerError{Peer: peer, Op: "GET " + endpoint, Err: fmt.Errorf("the answer is nested deeper than %d levels", maxDumpDepth)}
	}
	v, err := pyjson.Decode(data)
	if err != nil {
		return nil, &PeerError{Peer: peer, Op: "GET " + endpoint, Err: fmt.Errorf("the answer is not JSON: %w", err)}
	}
	obj, ok := v.(pyjson.Object)
	if !ok {
		return nil, &PeerError{Peer: peer, Op: "GET " + endpoint, Err: fmt.Errorf("want a JSON object, got %s", pyjson.TypeName(v))}
	}
	return obj, nil
}

// intField reads a non-negative integer field of a peer's answer.
func intField(obj pyjson.Object, name string) (int, error) {
	v, ok := obj[name].(pyjson.Int)
	if !ok {
		return 0, fmt.Errorf("field %q: want an integer, got %s", name, pyjson.TypeName(obj[name]))
	}
	i, ok := v.Int64()
	if !ok || i < 0 || i > 1<<40 {
		return 0, fmt.Errorf("field %q: %s is not a chain length", name, v)
	}
	return int(i), nil
}

// fetchHeaders asks a peer for the hashes of its blocks [from, from+limit),
// with retries when retry is set. An answer without "hashes" (a peer that
// answers every path with its chain) counts as a 404: errNotPaged.
func (n *Node) fetchHeaders(ctx context.Context, peer string, from, limit int, retry bool) (*headers, error) {
	endpoint := "headers?from=" + strconv.Itoa(from) + "&limit=" + strconv.Itoa(limit)
	var h *headers
	try := func(f func() error) error { return f() }
	if retry {
		try = func(f func() error) error { return n.retry(ctx, f) }
	}
	err := try(func() error {
		obj, err := n.getObject(ctx, peer, endpoint, 1<<20)
		if err != nil {
			return err
		}
		bad := func(err error) error { return &PeerError{Peer: peer, Op: "GET " + endpoint, Err: err} }
		if _, ok := obj["hashes"]; !ok {
			return bad(errNotPaged)
		}
		length, err := intField(obj, "length")
		if err != nil {
			return bad(err)
		}
		list, ok := obj["hashes"].([]pyjson.Value)
		if !ok {
			return bad(fmt.Errorf("field \"hashes\": want an array, got %s", pyjson.TypeName(obj["hashes"])))
		}
		if want := max(0, min(limit, length-from)); len(list) != want {
			return bad(fmt.Errorf("field \"hashes\": %d hashes, want %d", len(list), want))
		}
		h = &headers{from: from, length: length, hashes: make([][32]byte, len(list))}
		for i, v := range list {
			s, _ := v.(string)
			if h.hashes[i], err = hashBytes(s); err != nil {
				return bad(fmt.Errorf("field \"hashes[%d]\": %v", i, err))
			}
		}
		return nil
	})
	return h, err
}

// fetchPage asks a peer for its blocks from height from on (GET /blocks)
// and returns its length and the blocks, decoded but not validated.
func (n *Node) fetchPage(ctx context.Context, peer string, from int) (int, []*engine.Block, error) {
	endpoint := "blocks?from=" + strconv.Itoa(from) + "&limit=" + strconv.Itoa(MaxPageBlocks)
	limit := max(int64(MaxPageBytes), n.cfg.Limits.BlockBytes) + 1<<20
	var length int
	var blocks []*engine.Block
	err := n.retry(ctx, func() error {
		obj, err := n.getObject(ctx, peer, endpoint, limit)
		if err != nil {
			return err
		}
		bad := func(err error) error { return &PeerError{Peer: peer, Op: "GET " + endpoint, Err: err} }
		if length, err = intField(obj, "length"); err != nil {
			return bad(err)
		}
		list, ok := obj["blocks"].([]pyjson.Value)
		if !ok {
			return bad(fmt.Errorf("field \"blocks\": want an array, got %s", pyjson.TypeName(obj["blocks"])))
		}
		if len(list) > MaxPageBlocks || (from < length && len(list) == 0) {
			return bad(fmt.Errorf("field \"blocks\": %d blocks from height %d of %d", len(list), from, length))
		}
		blocks = make([]*engine.Block, len(list))
		for i, v := range list {
			if blocks[i], err = engine.BlockFromValue(v, engine.BlockOptions{}); err != nil {
				return bad(fmt.Errorf("blocks[%d]: %w", i, err))
			}
			if err := checkBlockDepth(blocks[i]); err != nil {
				return bad(fmt.Errorf("blocks[%d]: %w", i, err))
			}
		}
		return nil
	})
	return length, blocks, err
}

// findFork returns the length of the longest common prefix of our chain
// (idx) and the peer's, given a first GET /headers answer: it looks at
// windows of the peer's hashes further and further back. Hashes chain, so
// the highest height where the hashes agree ends the common prefix.
func (n *Node) findFork(ctx context.Context, peer string, idx hashIndex, h *headers) (int, error) {
	step := syncProbe
	for {
		for j := len(h.hashes) - 1; j >= 0; j-- {
			if ht := h.from + j; ht < idx.len() && h.hashes[j] == idx.at(ht) {
				return ht + 1, nil
			}
		}
		if h.from == 0 {
			return 0, &PeerError{Peer: peer, Op: "GET headers", Err: errors.New("its chain has another genesis block")}
		}
		step = min(step*8, MaxPageHashes)
		hi := min(h.from, idx.len())
		from := max(0, hi-step)
		var err error
		if h, err = n.fetchHeaders(ctx, peer, from, hi-from, true); err != nil {
			return 0, err
		}
	}
}

// syncFrom catches up with a powchain peer whose first GET /headers answer
// is h (nil: ask for it): it finds the common ancestor and fetches the
// blocks after it in pages, each validated against the block before it.
// Pages that extend our chain are appended as they come, so a sync that is
// stopped (or killed) resumes where it was. Pages of a fork are staged in
// the store until the fork is longer than our chain, then replace our
// blocks after the common ancestor (switchFork). One sync runs at a
// time: while one runs, syncFrom returns at once. It reports whether our
// chain changed.
func (n *Node) syncFrom(ctx context.Context, peer string, h *headers) (advanced bool, err error) {
	if !n.syncMu.TryLock() {
		n.log.Debug("sync: another sync is running", "peer", peer)
		return false, nil
	}
	defer n.syncMu.Unlock()
	n.mu.RLock()
	idx := n.index
	n.mu.RUnlock()
	if h == nil {
		if h, err = n.fetchHeaders(ctx, peer, max(0, idx.len()-syncProbe), syncProbe, true); err != nil {
			return false, err
		}
	}
	if h.length <= idx.len() {
		return false, nil
	}
	fork, err := n.findFork(ctx, peer, idx, h)
	if err != nil {
		return false, err
	}
	prevs, err := n.store.blocks(fork-1, fork)
	if err != nil {
		return false, err
	}
	prev := prevs[0].Block
	target := h.length
	n.metrics.syncTarget.Set(float64(target - 1))
	defer n.metrics.syncTarget.Set(0)
	start, lastLog, fetched := time.Now(), time.Now(), 0
	n.log.Info("sync started", "peer", peer, "from", fork, "ours", idx.len(), "theirs", target)

	forking := fork < idx.len() // our blocks after fork are to be replaced
	var stage *forkStage        // the fork's blocks while it is not longer than our chain
	defer func() {
		if stage != nil {
			stage.drop()
		}
	}()
	// A fetcher asks for the next page while this goroutine validates and
	// stores the last one.
	type answer struct {
		length int
		page   []*engine.Block
		err    error
	}
	pages := make(chan answer, 1)
	fctx, cancel := context.WithCancel(ctx)
	var fetcher sync.WaitGroup
	defer fetcher.Wait()
	defer cancel()
	fetcher.Go(func() {
		defer close(pages)
		for at, end := fork, target; at < end; {
			length, page, err := n.fetchPage(fctx, peer, at)
			select {
			case pages <- answer{length, page, err}:
			case <-fctx.Done():
				return
			}
			if err != nil || len(page) == 0 {
				return
			}
			at, end = at+len(page), max(end, length)
		}
	})

	height := fork
	for f := range pages {
		if f.err != nil {
			return advanced, f.err
		}
		length, page := f.length, f.page
		target = max(target, length)
		if len(page) == 0 {
			break // the peer's chain got shorter
		}
		nbs := make([]*block, len(page))
		for i, b := range page {
			if err := engine.ValidateNext(prev, height+i, b, n.target); err != nil {
				var re *engine.RuleError
				if errors.As(err, &re) {
					n.metrics.rejected.WithLabelValues(string(re.Rule)).Inc()
				}
				return advanced, &PeerError{Peer: peer, Op: "GET blocks", Err: fmt.Errorf("its chain is invalid (%s); we keep only the valid blocks before it: %w", ruleText(err), err)}
			}
			if nbs[i], err = newBlock(b); err != nil {
				return advanced, err
			}
			prev = b
		}
		n.metrics.syncPages.Inc()
		n.metrics.syncBlocks.Add(float64(len(page)))
		fetched += len(page)

		if forking {
			if stage == nil {
				if stage, err = n.newForkStage(idx, fork); err != nil {
					return advanced, err
				}
			}
			for _, b := range nbs {
				if err := stage.add(b); err != nil {
					return advanced, err
				}
			}
			if stage.bytes > n.cfg.Limits.ChainBytes {
				return advanced, &PeerError{Peer: peer, Op: "GET blocks", Err: fmt.Errorf("its fork from height %d is over the limit of %d bytes before it is longer than our chain", fork, n.cfg.Limits.ChainBytes)}
			}
			if stage.length() > n.Len() {
				done, err := n.switchFork(stage, peer)
				stage = nil
				if err != nil || !done {
					return advanced, err // our chain changed meanwhile: the next round starts over
				}
				advanced, forking = true, false
			}
		} else {
			ok, err := n.appendPage(height, nbs)
			if err != nil || !ok {
				return advanced, err
			}
			advanced = true
		}
		height += len(page)
		n.events.syncProgress(SyncEvent{State: "progress", Peer: peer, Have: height, Want: target, Length: n.Len()})
		if time.Since(lastLog) >= syncLogEvery {
			lastLog = time.Now()
			n.log.Info("sync progress", "peer", peer, "height", height-1, "target", target-1,
				"blocks_per_s", int(float64(fetched)/time.Since(start).Seconds()))
		}
	}
	if forking {
		return advanced, nil // the fork did not get longer than ours
	}
	n.log.Info("sync done", "peer", peer, "height", height-1, "blocks", fetched, "elapsed", time.Since(start).Round(time.Millisecond))
	return advanced, nil
}

// appendPage appends validated blocks that follow our tip at height, if
// our tip is still where the page starts; it reports whether it did.
func (n *Node) appendPage(height int, blocks []*block) (bool, error) {
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	ok := n.index.len() == height && n.tip.Hash == blocks[0].PreviousHash
	n.mu.RUnlock()
	if !ok {
		return false, nil // our chain changed meanwhile: the next round starts over from the fork
	}
	res, err := n.apply(height, blocks)
	if err != nil {
		return false, err
	}
	if res.cleared > 0 {
		n.log.Debug("sync: pending transactions found in the new blocks", "cleared", res.cleared)
	}
	return true, nil
}

// adoptFork replaces our blocks after height fork with staged, a
// validated fork whose block fork-1 has hash base, if it is longer than
// our chain and we still hold base at fork-1. It reports whether it did.
func (n *Node) adoptFork(fork int, base [32]byte, staged []*block, peer string) (bool, error) {
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	idx := n.index
	n.mu.RUnlock()
	if fork+len(staged) <= idx.len() || idx.len() < fork || idx.at(fork-1) != base {
		return false, nil
	}
	res, err := n.apply(fork, staged)
	if err != nil {
		return false, err
	}
	n.metrics.replacements.Inc()
	last := staged[len(staged)-1]
	n.log.Info("chain replaced", "from", peer, "height", last.Index, "hash", last.Hash,
		"fork", fork, "removed", res.removed, "added", len(staged), "orphaned", res.orphaned, "cleared", res.cleared)
	return true, nil
}

// Sync is the consensus step. It asks every peer for its length and
// latest hashes (GET /headers), a few peers at a time, and then catches
// up with the longest powchain peer that is ahead, in pages (syncFrom). A
// peer that speaks only the reference protocol (404 on /headers) is asked
// for its whole chain (GET /chain, read as a stream and validated as it
// arrives), which is adopted at once if it is longer. Peers that fail or
// answer with an invalid chain are logged and skipped, and a peer that
// keeps failing is asked again only after a pause that doubles with each
// failure (from Config.PeerTimeout up to 10 minutes). It reports whether
// our chain changed.
func (n *Node) Sync(ctx context.Context) (bool, error) {
	peers := n.health.due(n.Peers(), time.Now())
	ours := n.Len()
	type ahead struct {
		peer string
		h    *headers
	}
	var mu sync.Mutex
	var paged []ahead
	var adopted bool
	var firstErr error
	fanOut(peers, fanOutWorkers, func(p string) {
		if ctx.Err() != nil {
			return
		}
		h, err := n.fetchHeaders(ctx, p, max(0, ours-syncProbe), syncProbe, false)
		if errors.Is(err, errNotPaged) {
			var ok bool
			if ok, err = n.syncChain(ctx, p); err == nil {
				n.health.ok(p)
				mu.Lock()
				adopted = adopted || ok
				mu.Unlock()
				return
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				n.health.failed(p, time.Now(), n.peers.timeout)
				n.log.Warn("sync: peer failed", "peer", p, "err", err)
			}
			return
		}
		n.health.ok(p)
		if h.length > ours {
			mu.Lock()
			paged = append(paged, ahead{p, h})
			mu.Unlock()
		}
	})
	if err := ctx.Err(); err != nil {
		return adopted, err
	}
	slices.SortStableFunc(paged, func(a, b ahead) int { return b.h.length - a.h.length })
	for _, a := range paged {
		if a.h.length <= n.Len() {
			break
		}
		h := a.h
		if h.from != max(0, n.Len()-syncProbe) {
			h = nil // our chain changed since: ask again
		}
		ok, err := n.syncFrom(ctx, a.peer, h)
		adopted = adopted || ok
		if err != nil {
			if ctx.Err() != nil {
				return adopted, ctx.Err()
			}
			n.health.failed(a.peer, time.Now(), n.peers.timeout)
			n.log.Warn("sync from peer failed", "peer", a.peer, "err", err)
		}
		if ok {
			break
		}
	}
	return adopted, firstErr
}

// syncChain adopts a reference peer's chain (GET /chain) if it is valid
// and longer than ours (streamChain). It reports whether our chain
// changed.
func (n *Node) syncChain(ctx context.Context, peer string) (bool, error) {
	adopted, _, err := n.streamChain(ctx, peer, "GET", "chain", nil, false)
	return adopted, err
}

// streamedChain is what streamChain read.
type streamedChain struct {
	blocks int      // the chain's length; 0 for a paged registration answer
	length int      // a paged registration answer's length; -1 for a chain
	peers  []string // the answer's peer list
}

// streamChain sends a request whose answer is a chain dump (or, with
// paged, possibly a paged registration answer, which holds no chain) and
// adopts the chain if it is valid and longer than ours. The answer is read
// as a stream and validated as it arrives (chainReader, within
// Limits.ChainBytes); the blocks past the common prefix with our chain are
// staged in the store as they come (forkStage), and switched to
// (switchFork) only when the whole answer is read, valid and longer than
// our chain then. An answer that is invalid or cut off anywhere changes
// nothing: the staged blocks are dropped. Memory holds a batch of blocks
// and the indexes however long the answer. It reports whether our chain
// changed, and what the answer held besides.
func (n *Node) streamChain(ctx context.Context, peer, method, endpoint string, body []byte, paged bool) (bool, *streamedChain, error) {
	n.mu.RLock()
	ours := n.index
	n.mu.RUnlock()
	var stage *forkStage // the peer's blocks past the common prefix
	defer func() {
		if stage != nil {
			stage.drop()
		}
	}()
	count := 0
	each := func(pos int, b *engine.Block) error {
		count = pos + 1
		if stage == nil && pos < ours.len() {
			if h, err := hashBytes(b.Hash); err == nil && h == ours.at(pos) {
				return nil // still the common prefix
			}
			if pos == 0 {
				return &PeerError{Peer: peer, Op: method + " " + endpoint, Err: errors.New("its chain has another genesis block")}
			}
		}
		if stage == nil {
			var err error
			if stage, err = n.newForkStage(ours, min(pos, ours.len())); err != nil {
				return err
			}
		}
		nb, err := newBlock(b)
		if err != nil {
			return err
		}
		return stage.add(nb)
	}
	dump, length, err := n.peerChainOrLength(ctx, peer, method, endpoint, body, paged, each)
	if err != nil {
		return false, nil, err
	}
	sc := &streamedChain{blocks: count, length: length, peers: dump.Peers}
	if stage == nil || count <= n.Len() {
		return false, sc, nil // not longer than ours: the stage is dropped
	}
	st := stage
	stage = nil
	adopted, err := n.switchFork(st, peer) // drops the stage too
	return adopted, sc, err
}
