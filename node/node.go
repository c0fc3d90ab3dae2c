package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// Defaults of the Config fields left zero.
const (
	DefaultBatchDelay      = 2 * time.Millisecond
	DefaultPeerTimeout     = 5 * time.Second
	DefaultSyncInterval    = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultAnswerTimeout   = 30 * time.Second
)

// Config configures a Node. Every field but DataDir and Target has a
// default when left zero.
type Config struct {
	// DataDir is the directory of the node's store; it is created when
	// missing.
	DataDir string
	// Target is the chain's proof-of-work target (see engine.Difficulty).
	// A data dir made at another target is refused.
	Target hasher.Target
	// Miner mines the node's blocks; nil means engine.NewMiner(nil, 0),
	// or, with a Fleet, no local miner (GET /health reports 0 workers).
	Miner *engine.Miner
	// Fleet, when set, mines the node's blocks instead of Miner: remote
	// workers (see Fleet in workers.go).
	Fleet Fleet
	// AutoMine mines whenever transactions are pending. Without it the
	// node mines only on GET or POST /mine.
	AutoMine bool
	// Peers are the nodes Run registers with at start.
	Peers []string
	// AdvertiseURL is this node's own base URL, the one it gives peers when
	// it registers with them. Empty means the host the /register_with
	// request was sent to (as the reference node does); Run's bootstrap
	// registrations need it set.
	AdvertiseURL string
	// Logger receives one line per block mined, accepted or replaced and
	// the node's warnings; nil discards them.
	Logger *slog.Logger
	// SyncInterval is how often Run asks its peers for a longer chain;
	// negative disables the periodic check (a non-linking block from a
	// peer still triggers one). Default DefaultSyncInterval.
	SyncInterval time.Duration
	// PeerTimeout bounds connecting to a peer and waiting for its answer's
	// headers; a whole chain download gets ten times as long. Default
	// DefaultPeerTimeout.
	PeerTimeout time.Duration
	// BatchDelay is how long bbolt's group commit waits to gather
	// concurrent transactions into one fsync. Default DefaultBatchDelay.
	BatchDelay time.Duration
	// ShutdownTimeout bounds how long Run waits for in-flight requests
	// when its context is cancelled. Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// AnswerTimeout is how long a client may take to take each piece (32
	// KiB) of an answer of the node's chain or pool; a client that stops
	// reading is cut off, so that it cannot hold the node's memory.
	// Default DefaultAnswerTimeout.
	AnswerTimeout time.Duration
	// Limits bounds request and answer sizes and the pool.
	Limits Limits
	// PeerPolicy says which addresses may be peers; nil means the policy
	// of a node served on loopback with nothing more allowed,
	// NewPeerPolicy("127.0.0.1", nil).
	PeerPolicy *PeerPolicy
	// AdminToken, when set, is required (as "Authorization: Bearer
	// TOKEN") by the endpoints that change the peer list: POST
	// /register_node, POST /register_with and DELETE /peers/{url}.
	AdminToken string
	// RateLimit is how many requests per second one client address may
	// make to the endpoints that change state (POST /new_transaction,
	// /mine, /register_node, /register_with, /add_block, DELETE /peers),
	// with bursts of RateBurst; 0 means no limit. Loopback clients are
	// not limited unless RateLoopback is set, except through a trusted
	// proxy: a request a trusted proxy forwards is limited by the client
	// it names, loopback or not.
	RateLimit    float64
	RateBurst    int
	RateLoopback bool
	// TrustedProxies are the addresses of reverse proxies in front of the
	// node. For a request whose peer is one of them, the client (for the
	// rate limit) is the rightmost address of the ProxyHeader that is not
	// itself a trusted proxy; other peers' headers are never believed.
	// Their connections count only against Limits.Conns, not
	// Limits.ConnsPerClient. Serve --trusted-proxy.
	TrustedProxies []netip.Prefix
	// ProxyHeader is the header the trusted proxies name the client in:
	// HeaderXForwardedFor (the default) or HeaderForwarded (RFC 7239).
	// Only that one is read: a proxy passes the other one on as the
	// client sent it.
	ProxyHeader string
	// Revalidate makes Open read and validate every block of the store.
	// Without it Open trusts what this node wrote and fsync'd: it checks
	// the chain index against its stored checksum and reads the last
	// block, which takes well under a second at a million blocks.
	Revalidate bool
	// UI serves the dashboard (package node/ui) at / and /ui/.
	UI bool
	// Events configures GET /events, the live stream.
	Events EventsConfig
}

// Limits bounds what a node accepts. Zero fields take their defaults.
type Limits struct {
	TxBytes      int64 // body of POST /new_transaction; default 64 KiB
	BlockBytes   int64 // body of POST /add_block, and one block of a peer's chain; default 2 MiB
	ControlBytes int64 // bodies of /register_node and /register_with; default 16 KiB
	ChainBytes   int64 // a peer's chain answer, decompressed; default 256 MiB
	BlockTxBytes int   // canonical JSON of the transactions in a mined block; default 1 MiB
	BlockTxs     int   // transactions in a mined block; default 10000
	Pending      int   // pending transactions; more are refused with 503; default 1000000
	Peers        int   // known peers; more are refused with 503; default 128
	PoolBytes    int   // canonical JSON of the pending transactions; more is refused with 503; default 128 MiB
	DecodeBytes  int64 // large bodies (over 64 KiB) decoding at once; default 4 MiB
	// Conns caps the connections open at once, and ConnsPerClient those
	// from one client address (an IPv6 client by its /64; trusted proxies
	// are exempt); one more is answered 503 and closed. Defaults
	// DefaultMaxConns and DefaultMaxConnsPerClient; negative means no
	// cap.
	Conns          int
	ConnsPerClient int
}

func (l *Limits) setDefaults() {
	def := func(p *int64, v int64) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&l.TxBytes, 64<<10)
	def(&l.BlockBytes, 2<<20)
	def(&l.ControlBytes, 16<<10)
	def(&l.ChainBytes, 256<<20)
	if l.BlockTxBytes <= 0 {
		l.BlockTxBytes = 1 << 20
	}
	if l.BlockTxs <= 0 {
		l.BlockTxs = 10000
	}
	if l.Pending <= 0 {
		l.Pending = 1000000
	}
	if l.PoolBytes <= 0 {
		l.PoolBytes = 128 << 20
	}
	def(&l.DecodeBytes, 4<<20)
	if l.Peers <= 0 {
		l.Peers = 128
	}
	if l.Conns == 0 {
		l.Conns = DefaultMaxConns
	}
	if l.ConnsPerClient == 0 {
		l.ConnsPerClient = DefaultMaxConnsPerClient
	}
}

// Node is a powchain node: a chain, its pending pool and its peers, kept
// in a durable store, served over the reference node's REST API (Handler,
// Run). All methods are safe for concurrent use.
type Node struct {
	cfg     Config
	target  hasher.Target
	miner   *engine.Miner
	workers int // the local mining goroutines: 0 when only a Fleet mines
	log     *slog.Logger
	store   *store
	peers   *peerClient
	metrics *metrics
	events  *eventBus

	decodeBudget *budget // bytes of large bodies decoding at once
	policy       *PeerPolicy
	health       peerHealth // peers in back-off
	peerMu       sync.Mutex // serializes changes of the peer list
	intros       chan intro // registrations for Run's introducers
	limiter      *rateLimiter
	proxies      proxyTrust  // trusted reverse proxies
	conns        *connLimits // caps on open connections (Run's listener)

	// mineFunc mines a template; tests replace it.
	mineFunc func(ctx context.Context, b *engine.Block) (*engine.Block, engine.Result, error)

	syncMu  sync.Mutex   // one paged sync at a time (TryLock)
	stageMu sync.Mutex   // one fork staged at a time (forkStage)
	chainMu sync.Mutex   // serializes chain changes, from check to commit
	viewMu  sync.RWMutex // held by a chain change from its store commit to its memory update
	mineMu  sync.Mutex   // one mining attempt at a time

	mu           sync.RWMutex // guards the fields below
	index        hashIndex    // the chain's hashes; never modified below its length
	sum          []byte       // the checksum state of index (see extendSum)
	tip          *block       // the last block
	pool         *pool
	peerSet      map[string]struct{}
	selfURLs     map[string]struct{}
	tipGen       uint64             // bumped by every chain change
	cancelMining context.CancelFunc // cancels the mining attempt in progress
	runCtx       context.Context    // set while Run runs
	running      bool
	closed       bool

	lastTS   atomic.Uint64 // float64 bits of the last transaction timestamp
	work     chan struct{} // the pool grew (capacity 1)
	syncKick chan struct{} // a peer may have a longer chain (capacity 1)
	announce chan *block   // blocks to announce (Run's announcer)
	wg       sync.WaitGroup
}

// Open opens (or creates) the store in cfg.DataDir, checks that it was
// made for cfg.Target and the reference genesis block, and loads and
// validates its chain, pending transactions and peers. The node serves
// nothing until Run; Close releases the store.
func Open(cfg Config) (*Node, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("node: no data dir")
	}
	if cfg.Target.Bits() <= 0 {
		return nil, fmt.Errorf("node: difficulty: %w", engine.ErrZeroTarget)
	}
	local := cfg.Miner != nil || cfg.Fleet == nil
	if cfg.Miner == nil {
		cfg.Miner = engine.NewMiner(nil, 0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.PeerTimeout <= 0 {
		cfg.PeerTimeout = DefaultPeerTimeout
	}
	if cfg.BatchDelay <= 0 {
		cfg.BatchDelay = DefaultBatchDelay
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = DefaultAnswerTimeout
	}
	cfg.Limits.setDefaults()
	proxies, err := newProxyTrust(cfg.TrustedProxies, cfg.ProxyHeader)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if cfg.AdvertiseURL != "" {
		u, err := NormalizePeer(cfg.AdvertiseURL)
		if err != nil {
			return nil, fmt.Errorf("node: advertise URL: %w", err)
		}
		cfg.AdvertiseURL = u
	}
	st, _, err := openStore(cfg.DataDir, cfg.Target, cfg.BatchDelay, false)
	if err != nil {
		return nil, err
	}
	c, err := st.load(cfg.Target, cfg.Revalidate)
	if err != nil {
		st.close()
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		target:   cfg.Target,
		miner:    cfg.Miner,
		workers:  cfg.Miner.Workers(),
		log:      cfg.Logger,
		store:    st,
		index:    c.index,
		sum:      c.sum,
		tip:      c.tip,
		pool:     newPool(),
		peerSet:  map[string]struct{}{},
		selfURLs: map[string]struct{}{},
		work:     make(chan struct{}, 1),
		syncKick: make(chan struct{}, 1),
		announce: make(chan *block, 256),
	}
	if !local {
		n.workers = 0
	}
	n.mineFunc = func(ctx context.Context, b *engine.Block) (*engine.Block, engine.Result, error) {
		return engine.MineBlock(ctx, n.solver(), b, n.target)
	}
	if n.policy = cfg.PeerPolicy; n.policy == nil {
		n.policy, _ = NewPeerPolicy("127.0.0.1", nil)
	}
	n.peers = newPeerClient(cfg.PeerTimeout, n.policy)
	n.intros = make(chan intro, 64)
	if cfg.AdvertiseURL != "" {
		n.selfURLs[cfg.AdvertiseURL] = struct{}{}
	}
	var unminable []uint64
	for _, r := range c.pending {
		tx, err := pyjson.Decode([]byte(r.canon))
		if err != nil {
			st.close()
			return nil, fmt.Errorf("node: store %s is corrupt: pending transaction %d: %w", st.path, r.seq, err)
		}
		if err := checkMinable(tx); err != nil {
			// An older version accepted it; it would stop mining for ever.
			n.log.Warn("dropping a pending transaction that cannot be mined", "seq", r.seq, "bytes", len(r.canon), "err", err)
			unminable = append(unminable, r.seq)
			continue
		}
		n.pool.add(r.canon, r.seq)
	}
	if len(unminable) > 0 {
		if _, err := st.commit(&change{drop: unminable}); err != nil {
			st.close()
			return nil, err
		}
	}
	if n.pool.bytes > 16<<20 {
		// Checking a large pool decoded every transaction once: give that
		// garbage back now rather than let the heap keep room for it.
		debug.FreeOSMemory()
	}
	for _, p := range c.peers {
		n.peerSet[p] = struct{}{}
	}
	n.decodeBudget = newBudget(cfg.Limits.DecodeBytes)
	n.limiter = newRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.RateLoopback)
	n.proxies = proxies
	n.conns = newConnLimits(cfg.Limits.Conns, cfg.Limits.ConnsPerClient, &n.proxies)
	n.metrics = newMetrics(n)
	n.events = newEventBus(cfg.Events, n.metrics.reg)
	return n, nil
}

// Close closes the store. Run must have returned (cancel its context
// first): Close refuses to close a running node. It is safe to call twice.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	if n.running {
		n.mu.Unlock()
		return errors.New("node: Close while Run is running; cancel Run's context and wait for it first")
	}
	n.closed = true
	n.mu.Unlock()
	n.peers.close()
	return n.store.close()
}

// Target returns the chain's proof-of-work target.
func (n *Node) Target() hasher.Target { return n.target }

// Len returns the number of blocks, genesis included.
func (n *Node) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.index.len()
}

// Blocks reads the whole chain from the store, genesis first, in one read
// transaction. It decodes every block: use WriteChain to serve a long
// chain.
func (n *Node) Blocks() []*engine.Block {
	bs, err := n.store.blocks(0, -1)
	if err != nil {
		n.log.Error("reading the chain failed", "err", err)
		return nil
	}
	out := make([]*engine.Block, len(bs))
	for i, b := range bs {
		out[i] = b.Block
	}
	return out
}

// WriteChain writes the node's GET /chain answer, the reference node's
// chain dump {"length": N, "chain": [blocks with hash], "peers": [urls]},
// streamed from the store: the blocks as stored, in one read transaction,
// through a buffer of 64 KiB.
func (n *Node) WriteChain(w io.Writer) error {
	tx, peers, err := n.view()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return n.store.writeDump(tx, w, peers)
}

// view begins a read transaction of the store that holds exactly the
// chain in memory (no chain change is between its commit and its memory
// update), and returns it with the peers. The caller rolls it back, and
// reads the chain through chainView: during the move of a chain switch it
// is the new chain, read partly from the staging bucket.
func (n *Node) view() (*bolt.Tx, []string, error) {
	n.viewMu.RLock()
	defer n.viewMu.RUnlock()
	tx, err := n.store.db.Begin(false)
	if err != nil {
		return nil, nil, fmt.Errorf("node: reading the store: %w", err)
	}
	return tx, n.Peers(), nil
}

// ChainJSON returns the node's GET /chain answer (see WriteChain) in
// memory.
func (n *Node) ChainJSON() []byte {
	var b bytes.Buffer
	if err := n.WriteChain(&b); err != nil {
		n.log.Error("reading the chain failed", "err", err)
	}
	return b.Bytes()
}

// Pending returns the pending transactions, oldest first.
func (n *Node) Pending() []pyjson.Value {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]pyjson.Value, 0, n.pool.len())
	for el := n.pool.order.Front(); el != nil; el = el.Next() {
		tx, err := pyjson.Decode([]byte(el.Value.(*poolEntry).canon))
		if err == nil {
			out = append(out, tx)
		}
	}
	return out
}

// Peers returns the peers' base URLs, sorted.
func (n *Node) Peers() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]string, 0, len(n.peerSet))
	for p := range n.peerSet {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// InputError is returned when a request or a transaction is malformed: a
// missing or mistyped field, invalid JSON, a bad peer URL.
type InputError struct {
	Field string // the field at fault, "" for the whole input
	Msg   string
}

// Error returns "node: field ...: what is wrong".
func (e *InputError) Error() string {
	if e.Field == "" {
		return "node: " + e.Msg
	}
	return fmt.Sprintf("node: field %q: %s", e.Field, e.Msg)
}

// CheckTransaction checks a transaction as POST /new_transaction receives
// it: a JSON object whose "author" and "content" are non-empty strings;
// other keys are kept.
func CheckTransaction(v pyjson.Value) (pyjson.Object, error) {
	obj, ok := v.(pyjson.Object)
	if !ok {
		return nil, &InputError{Msg: "want a JSON object with \"author\" and \"content\", got " + pyjson.TypeName(v)}
	}
	for _, f := range []string{"author", "content"} {
		fv, ok := obj[f]
		if !ok {
			return nil, &InputError{Field: f, Msg: "missing"}
		}
		s, ok := fv.(string)
		if !ok {
			return nil, &InputError{Field: f, Msg: "want a non-empty string, got " + pyjson.TypeName(fv)}
		}
		if s == "" {
			return nil, &InputError{Field: f, Msg: "is empty"}
		}
	}
	if valueDepth(obj, MaxTxDepth) > MaxTxDepth {
		return nil, &InputError{Msg: fmt.Sprintf("the transaction is nested deeper than %d levels", MaxTxDepth)}
	}
	return obj, nil
}

// checkMinable reports why a transaction could not go into a block: it is
// nested too deep, or a block holding it does not encode.
func checkMinable(tx pyjson.Value) error {
	if valueDepth(tx, MaxTxDepth) > MaxTxDepth {
		return fmt.Errorf("nested deeper than %d levels", MaxTxDepth)
	}
	_, err := (&engine.Block{Transactions: []pyjson.Value{tx}, PreviousHash: "0"}).Template()
	return err
}

// tipBlock returns the last block of the chain.
func (n *Node) tipBlock() *engine.Block {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.tip.Block
}
