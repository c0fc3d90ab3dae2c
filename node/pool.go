package node

import (
	"container/list"
	"errors"
	"math"
	"time"

	"github.com/powchain/powchain/engine/pyjson"
)

// poolEntry is one pending transaction. Its identity is its canonical JSON
// (pyjson.Encode, sorted keys): two transactions with the same canonical
// JSON are the same transaction. Only the canonical JSON is kept: a
// decoded transaction can take many times its size, and the pool is
// bounded in bytes of canonical JSON. Mining decodes the few it takes.
type poolEntry struct {
	canon string
	seqs  []uint64 // keys of its records in the pending bucket, lowest first
	elem  *list.Element
}

// pool is the pending transactions in the order of their first key in the
// store, which is the order they were acknowledged in. It is guarded by
// Node.mu.
type pool struct {
	byCanon map[string]*poolEntry
	order   list.List // of *poolEntry
	bytes   int       // sum of len(canon)

	// Room taken by transactions on their way to the store, so that the
	// limits hold for requests that run at once (see reserve).
	resCount, resBytes int
}

// reserve takes room for one transaction of size bytes if the pool, with
// what is already reserved, stays within maxCount transactions and
// maxBytes bytes; it reports whether it did. Check and reservation happen
// under Node.mu, so the limits are never overrun by concurrent requests.
func (p *pool) reserve(size, maxCount, maxBytes int) bool {
	if p.len()+p.resCount >= maxCount || p.bytes+p.resBytes+size > maxBytes {
		return false
	}
	p.resCount++
	p.resBytes += size
	return true
}

// unreserve gives back room taken by reserve.
func (p *pool) unreserve(size int) {
	p.resCount--
	p.resBytes -= size
}

func newPool() *pool { return &pool{byCanon: map[string]*poolEntry{}} }

// len returns the number of pending transactions.
func (p *pool) len() int { return len(p.byCanon) }

// has reports whether a transaction with this canonical JSON is pending.
func (p *pool) has(canon string) bool { _, ok := p.byCanon[canon]; return ok }

// add records that the store holds the transaction under key seq. A
// transaction that is already pending only gains the key.
func (p *pool) add(canon string, seq uint64) {
	if e, ok := p.byCanon[canon]; ok {
		e.seqs = append(e.seqs, seq)
		return
	}
	e := &poolEntry{canon: canon, seqs: []uint64{seq}}
	p.byCanon[canon] = e
	p.bytes += len(canon)
	// Acknowledgements finish nearly in key order: look from the back.
	at := p.order.Back()
	for at != nil && at.Value.(*poolEntry).seqs[0] > seq {
		at = at.Prev()
	}
	if at == nil {
		e.elem = p.order.PushFront(e)
	} else {
		e.elem = p.order.InsertAfter(e, at)
	}
}

// remove drops the transaction with this canonical JSON and returns the
// store keys to delete, or nil when it was not pending.
func (p *pool) remove(canon string) []uint64 {
	e, ok := p.byCanon[canon]
	if !ok {
		return nil
	}
	delete(p.byCanon, canon)
	p.order.Remove(e.elem)
	p.bytes -= len(canon)
	return e.seqs
}

// take returns the oldest transactions whose canonical JSON adds up to at
// most maxBytes (but at least one transaction when any is pending) and at
// most maxCount of them.
func (p *pool) take(maxBytes, maxCount int) []*poolEntry {
	var out []*poolEntry
	size := 0
	for el := p.order.Front(); el != nil && len(out) < maxCount; el = el.Next() {
		e := el.Value.(*poolEntry)
		if len(out) > 0 && size+len(e.canon) > maxBytes {
			break
		}
		size += len(e.canon)
		out = append(out, e)
	}
	return out
}

// all returns every pending transaction's canonical JSON, oldest first.
func (p *pool) all() []string {
	out := make([]string, 0, p.len())
	for el := p.order.Front(); el != nil; el = el.Next() {
		out = append(out, el.Value.(*poolEntry).canon)
	}
	return out
}

// ErrPoolFull is returned by AddTransaction when the pending pool holds
// Limits.Pending transactions or Limits.PoolBytes bytes of them.
var ErrPoolFull = errors.New("node: the pending pool is full")

// now returns the current time as the reference node's time.time() does:
// seconds since the epoch as a float.
func now() pyjson.Float { return pyjson.Float(float64(time.Now().UnixNano()) / 1e9) }

// txTimestamp returns the current time as a float, strictly greater than
// every timestamp it returned before, so that two transactions this node
// stamps never have the same canonical JSON.
func (n *Node) txTimestamp() pyjson.Float {
	for {
		old := n.lastTS.Load()
		t := float64(now())
		if prev := math.Float64frombits(old); t <= prev {
			t = math.Nextafter(prev, math.Inf(1))
		}
		if n.lastTS.CompareAndSwap(old, math.Float64bits(t)) {
			return pyjson.Float(t)
		}
	}
}

// AddTransaction stamps tx (checked with CheckTransaction) with the node's
// time, stores it durably and adds it to the pending pool. It returns the
// transaction as stored once it is on disk. Concurrent calls share an
// fsync (bbolt's group commit).
func (n *Node) AddTransaction(tx pyjson.Object) (pyjson.Object, error) {
	if _, err := CheckTransaction(tx); err != nil {
		return nil, err
	}
	stamped := make(pyjson.Object, len(tx)+1)
	for k, v := range tx {
		stamped[k] = v
	}
	stamped["timestamp"] = n.txTimestamp()
	canon, err := pyjson.Encode(stamped)
	if err != nil {
		return nil, &InputError{Msg: err.Error()}
	}
	n.mu.Lock()
	ok := n.pool.reserve(len(canon), n.cfg.Limits.Pending, n.cfg.Limits.PoolBytes)
	n.mu.Unlock()
	if !ok {
		return nil, ErrPoolFull
	}
	seq, err := n.store.addPending(canon)
	n.mu.Lock()
	n.pool.unreserve(len(canon))
	if err == nil {
		n.pool.add(string(canon), seq)
	}
	n.mu.Unlock()
	if err != nil {
		return nil, err
	}
	n.metrics.txs.Inc()
	n.events.txAdded(canon)
	n.wake()
	return stamped, nil
}

// wake tells the auto-miner that the pool grew.
func (n *Node) wake() {
	select {
	case n.work <- struct{}{}:
	default:
	}
}

// kickSync asks Run's syncer to look for a longer chain at the peers.
func (n *Node) kickSync() {
	select {
	case n.syncKick <- struct{}{}:
	default:
	}
}
