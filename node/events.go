package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// Defaults of the EventsConfig fields left zero.
const (
	DefaultMaxSubscribers    = 64
	DefaultEventBuffer       = 256
	DefaultEventKeepAlive    = 15 * time.Second
	DefaultEventWriteTimeout = 10 * time.Second
)

// EventsConfig configures GET /events, the live stream. Zero fields take
// their defaults.
type EventsConfig struct {
	// MaxSubscribers bounds the streams open at once; one more is
	// answered 503. Default DefaultMaxSubscribers.
	MaxSubscribers int
	// MaxPerClient bounds the streams of one client address (an IPv6
	// client by its /64; behind a trusted proxy, the client it names), so
	// that one address cannot take them all; one more is answered 429.
	// Loopback clients that do not come through a trusted proxy are
	// exempt. Default MaxSubscribers/8, at least 1.
	MaxPerClient int
	// Buffer is how many events may wait for one subscriber. A subscriber
	// that falls this far behind is dropped (its stream ends; a browser
	// reconnects and reloads its state). Default DefaultEventBuffer.
	Buffer int
	// KeepAlive is how often an idle stream gets a comment line, so
	// proxies and browsers keep it open. Default DefaultEventKeepAlive.
	KeepAlive time.Duration
	// WriteTimeout bounds one write to a subscriber; a client that does
	// not read for this long is dropped. Default DefaultEventWriteTimeout.
	WriteTimeout time.Duration
}

func (c *EventsConfig) setDefaults() {
	if c.MaxSubscribers <= 0 {
		c.MaxSubscribers = DefaultMaxSubscribers
	}
	if c.MaxPerClient <= 0 {
		c.MaxPerClient = max(1, c.MaxSubscribers/8)
	}
	if c.Buffer <= 0 {
		c.Buffer = DefaultEventBuffer
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = DefaultEventKeepAlive
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultEventWriteTimeout
	}
}

// rateHistory is how many one-second hash-rate samples the bus keeps for
// a new subscriber's sparkline: ten minutes.
const rateHistory = 600

// Transaction events are limited to txEventBurst at once, refilled at
// txEventRate a second; the ones over it are counted in the next status
// event ("tx_skipped"), so a flood of transactions cannot fill the
// subscribers' buffers and drop them.
const (
	txEventRate  = 100
	txEventBurst = 200
)

// maxBlockEvents is the most "block" events one chain change sends; a
// bigger change (a long chain adopted, a fork) sends one "chain" event.
const maxBlockEvents = 32

// maxHelloPeers is the most peers the "hello" event lists.
const maxHelloPeers = 1000

// errTooManySubscribers is returned by subscribe when the bus is full.
var errTooManySubscribers = errors.New("node: the live stream has its maximum number of subscribers")

// subscriber is one open GET /events stream.
type subscriber struct {
	ch   chan []byte   // encoded frames, at most EventsConfig.Buffer waiting
	gone chan struct{} // closed when the bus drops the subscriber
}

// eventBus fans the node's events out to the subscribers of GET /events.
// Publishing never blocks: a subscriber whose buffer is full is dropped.
// Frames are encoded once and shared by every subscriber, so memory is
// bounded by MaxSubscribers × Buffer frames. It is safe for concurrent
// use.
type eventBus struct {
	cfg     EventsConfig
	dropped prometheus.Counter

	streams atomic.Int64 // GET /events handlers running

	mu        sync.Mutex // guards the fields below
	subs      map[*subscriber]struct{}
	clients   map[netip.Addr]int // streams by client, for MaxPerClient
	rates     []float64          // the last rateHistory one-second hash rates, oldest first
	txTokens  float64
	txRefill  time.Time
	txSkipped int
}

func newEventBus(cfg EventsConfig, reg *prometheus.Registry) *eventBus {
	cfg.setDefaults()
	b := &eventBus{cfg: cfg, subs: map[*subscriber]struct{}{}, clients: map[netip.Addr]int{}, txTokens: txEventBurst, txRefill: time.Now()}
	b.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_event_subscribers_dropped_total", Help: "GET /events streams dropped because the client did not keep up.",
	})
	reg.MustRegister(b.dropped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "powchain_event_subscribers", Help: "GET /events streams open.",
	}, func() float64 { return float64(b.count()) }))
	return b
}

// count returns the number of subscribers.
func (b *eventBus) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func (b *eventBus) subscribe() (*subscriber, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) >= b.cfg.MaxSubscribers {
		return nil, errTooManySubscribers
	}
	s := &subscriber{ch: make(chan []byte, b.cfg.Buffer), gone: make(chan struct{})}
	b.subs[s] = struct{}{}
	return s, nil
}

// enter counts a stream of client, and reports false when the client
// already has MaxPerClient streams.
func (b *eventBus) enter(client netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.clients[client] >= b.cfg.MaxPerClient {
		return false
	}
	b.clients[client]++
	return true
}

// leave uncounts a stream that enter counted.
func (b *eventBus) leave(client netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.clients[client]--; b.clients[client] <= 0 {
		delete(b.clients, client)
	}
}

func (b *eventBus) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, s)
}

// frame encodes one Server-Sent Event. data must encode to one line,
// which encoding/json's output is.
func frame(name string, data any) []byte {
	j, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("node: encoding event %s: %v", name, err)) // our own types always encode
	}
	out := make([]byte, 0, len(name)+len(j)+16)
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, j...)
	return append(out, "\n\n"...)
}

// publish sends an event to every subscriber, dropping those whose
// buffer is full. It never blocks.
func (b *eventBus) publish(name string, data any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) == 0 {
		return
	}
	f := frame(name, data)
	for s := range b.subs {
		select {
		case s.ch <- f:
		default:
			delete(b.subs, s)
			close(s.gone)
			b.dropped.Inc()
		}
	}
}

// blockEvent is the data of a "block" event.
type blockEvent struct {
	Index        int64           `json:"index"`
	Hash         string          `json:"hash"`
	Nonce        uint64          `json:"nonce"`
	Txs          int             `json:"txs"`
	Timestamp    json.RawMessage `json:"timestamp"` // the block's number, as CPython writes it
	PreviousHash string          `json:"previous_hash"`
	Length       int             `json:"length"` // the chain's length after this block
}

// chainChanged publishes a chain change made by apply: a "block" event
// for each block appended, or one "chain" event when blocks left the
// chain or more than maxBlockEvents arrived at once.
func (b *eventBus) chainChanged(oldLen, fork int, added []*block) {
	if fork != oldLen || len(added) > maxBlockEvents {
		tip := ""
		if len(added) > 0 {
			tip = added[len(added)-1].Hash
		}
		b.chainReplaced(oldLen, fork, fork+len(added), tip)
		return
	}
	for i, nb := range added {
		ts, err := pyjson.Encode(nb.Timestamp)
		if err != nil || !json.Valid(ts) {
			ts = []byte("null") // NaN or Infinity: the block view shows the stored form
		}
		b.publish("block", blockEvent{
			Index: nb.Index, Hash: nb.Hash, Nonce: nb.Nonce, Txs: len(nb.Transactions),
			Timestamp: ts, PreviousHash: nb.PreviousHash, Length: oldLen + i + 1,
		})
	}
}

// chainReplaced publishes the "chain" event of a change that made the
// chain length blocks long, from height fork on, with tip its last hash.
func (b *eventBus) chainReplaced(oldLen, fork, length int, tip string) {
	b.publish("chain", map[string]any{"length": length, "fork": fork, "removed": oldLen - fork, "added": length - fork, "tip": tip})
}

// txAdded publishes a "tx" event with the transaction's canonical JSON
// as a string (CPython's JSON may hold NaN, which JSON.parse refuses),
// unless transaction events are over their rate.
func (b *eventBus) txAdded(canon []byte) {
	b.mu.Lock()
	if len(b.subs) == 0 {
		b.mu.Unlock()
		return
	}
	now := time.Now()
	b.txTokens = min(txEventBurst, b.txTokens+now.Sub(b.txRefill).Seconds()*txEventRate)
	b.txRefill = now
	if b.txTokens < 1 {
		b.txSkipped++
		b.mu.Unlock()
		return
	}
	b.txTokens--
	b.mu.Unlock()
	b.publish("tx", map[string]string{"tx": string(canon)})
}

// peersAdded publishes a "peers" event with the peers just added.
func (b *eventBus) peersAdded(added []string, total int) {
	b.publish("peers", map[string]any{"added": added, "removed": []string{}, "peers": total})
}

// peersRemoved publishes a "peers" event with the peers just removed.
func (b *eventBus) peersRemoved(removed []string, total int) {
	b.publish("peers", map[string]any{"added": []string{}, "removed": removed, "peers": total})
}

// SyncEvent is the data of a "sync" event: progress of a consensus round.
type SyncEvent struct {
	State   string `json:"state"`             // "start", "progress" or "done"
	Peers   int    `json:"peers"`             // peers asked
	Peer    string `json:"peer,omitempty"`    // the peer a "progress" event is about
	Have    int    `json:"have,omitempty"`    // blocks fetched from it so far
	Want    int    `json:"want,omitempty"`    // blocks it has
	Adopted bool   `json:"adopted,omitempty"` // "done": whether our chain was replaced
	Length  int    `json:"length"`            // our chain's length
	Error   string `json:"error,omitempty"`   // "done": why the round failed
}

// syncProgress publishes a "sync" event.
func (b *eventBus) syncProgress(e SyncEvent) { b.publish("sync", e) }

// statusEvent is the data of the "status" event sent every second.
type statusEvent struct {
	Rate      float64 `json:"rate"`   // hashes per second over the last second
	Rate10    float64 `json:"rate10"` // over the last ten seconds (powchain_hash_rate)
	Length    int     `json:"length"`
	Tip       string  `json:"tip"`
	Pending   int     `json:"pending"`
	Peers     int     `json:"peers"`
	Mining    bool    `json:"mining"` // a mining attempt is running
	TxSkipped int     `json:"tx_skipped,omitempty"`
	Time      float64 `json:"time"` // the node's clock, seconds since the epoch
}

// helloEvent is the first event of every stream: what the page needs to
// draw itself without asking anything else.
type helloEvent struct {
	Health
	CPU            hasher.CPUInfo `json:"cpu"`
	PeerList       []string       `json:"peer_list"` // the first maxHelloPeers peers, sorted
	Rates          []float64      `json:"rates"`     // one a second, oldest first, up to ten minutes
	MaxSubscribers int            `json:"max_subscribers"`
	Subscribers    int            `json:"subscribers"`
}

// status returns the status event of now.
func (n *Node) status(rate float64, skipped int) statusEvent {
	h := n.Health()
	return statusEvent{
		Rate: rate, Rate10: math.Float64frombits(n.metrics.rate.Load()), Length: h.Length, Tip: h.LastHash,
		Pending: h.Pending, Peers: h.Peers, Mining: n.mining(), TxSkipped: skipped,
		Time: float64(time.Now().UnixMilli()) / 1000,
	}
}

// mining reports whether a mining attempt is running (mineMu is held for
// a whole attempt).
func (n *Node) mining() bool {
	if n.mineMu.TryLock() {
		n.mineMu.Unlock()
		return false
	}
	return true
}

// runEvents publishes the "status" event every second, with the hash rate
// of that second, until ctx is done. It must be run as a goroutine by Run.
func (n *Node) runEvents(ctx context.Context) {
	b := n.events
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastAt := n.miner.Hashes(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-tick.C:
			hashes := n.miner.Hashes()
			rate := 0.0
			if dt := t.Sub(lastAt).Seconds(); dt > 0 {
				rate = float64(hashes-last) / dt
			}
			if r, ok := n.fleetRate(); ok {
				rate = r // the fleet's workers, this node's own included
			}
			last, lastAt = hashes, t
			b.mu.Lock()
			b.rates = append(b.rates, rate)
			if len(b.rates) > rateHistory {
				b.rates = append(b.rates[:0], b.rates[len(b.rates)-rateHistory:]...)
			}
			skipped := b.txSkipped
			b.txSkipped = 0
			idle := len(b.subs) == 0
			b.mu.Unlock()
			if !idle {
				b.publish("status", n.status(rate, skipped))
			}
		}
	}
}

// GET /events: the live stream, as Server-Sent Events. The first event,
// "hello", holds the node's state and the last ten minutes of hash rates;
// then "block", "chain", "tx", "peers", "sync" and, every second,
// "status". A comment line keeps an idle stream open.
func (n *Node) handleEvents(w http.ResponseWriter, r *http.Request) {
	b := n.events
	if a, proxied, ok := n.proxies.clientOf(r); ok && (proxied || !a.IsLoopback()) {
		key := clientKey(a)
		if !b.enter(key) {
			w.Header().Set("Retry-After", "5")
			writeText(w, http.StatusTooManyRequests, fmt.Sprintf("%s has its maximum of %d live streams open; a browser shares one between its tabs", key, b.cfg.MaxPerClient))
			return
		}
		defer b.leave(key)
	}
	s, err := b.subscribe()
	if err != nil {
		w.Header().Set("Retry-After", "5")
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("the live stream has its maximum of %d subscribers; try again later", b.cfg.MaxSubscribers))
		return
	}
	defer b.unsubscribe(s)
	b.streams.Add(1)
	defer b.streams.Add(-1)

	b.mu.Lock()
	hello := helloEvent{Rates: append([]float64{}, b.rates...), MaxSubscribers: b.cfg.MaxSubscribers, Subscribers: len(b.subs)}
	b.mu.Unlock()
	hello.Health = n.Health()
	hello.CPU = hasher.Info()
	hello.PeerList = n.Peers()
	if len(hello.PeerList) > maxHelloPeers {
		hello.PeerList = hello.PeerList[:maxHelloPeers]
	}

	rc := http.NewResponseController(w)
	// The server's ReadTimeout would end a long stream: its deadline also
	// covers the wait for the client to go away.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Connection", "close") // a stream's connection is never reused; a dropped one ends
	w.WriteHeader(http.StatusOK)

	send := func(p []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(b.cfg.WriteTimeout))
		if _, err := w.Write(p); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	first := append([]byte("retry: 3000\n\n"), frame("hello", hello)...)
	if !send(first) {
		return
	}
	keep := time.NewTicker(b.cfg.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.gone:
			return
		case <-keep.C:
			if !send([]byte(": keep-alive\n\n")) {
				return
			}
		case f := <-s.ch:
			// Write what else is waiting in the same flush.
			for more := true; more; {
				select {
				case g := <-s.ch:
					f = append(f[:len(f):len(f)], g...)
				default:
					more = false
				}
			}
			if !send(f) {
				return
			}
		}
	}
}

// errText is err's message, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
