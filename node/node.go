package node

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	// Miner mines the node's blocks; nil means engine.NewMiner(nil, 0).
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
	// not limited unless RateLoopback is set.
	RateLimit    float64
	RateBurst    int
	RateLoopback bool
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
	DecodeBytes  int64 // large bodies (over 64 KiB) decoding at once; default 8 MiB
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
	def(&l.DecodeBytes, 8<<20)
	if l.Peers <= 0 {
		l.Peers = 128
	}
}

// block is a block of our chain with its wire form (sorted keys, with
// hash), which is what the store holds and /chain serves.
type block struct {
	*engine.Block
	wire []byte
}

func newBlock(b *engine.Block) (*block, error) {
	wire, err := b.MarshalWire()
	if err != nil {
		return nil, fmt.Errorf("node: encoding block %d: %w", b.Index, err)
	}
	return &block{Block: b, wire: wire}, nil
}

// Node is a powchain node: a chain, its pending pool and its peers, kept
// in a durable store, served over the reference node's REST API (Handler,
// Run). All methods are safe for concurrent use.
type Node struct {
	cfg     Config
	target  hasher.Target
	miner   *engine.Miner
	log     *slog.Logger
	store   *store
	peers   *peerClient
	metrics *metrics

	decodeBudget *budget // bytes of large bodies decoding at once
	chainBudget  *budget // bytes of peers' chain answers being read at once
	policy       *PeerPolicy
	health       peerHealth // peers in back-off
	peerMu       sync.Mutex // serializes changes of the peer list
	intros       chan intro // registrations for Run's introducers
	limiter      *rateLimiter

	// mineFunc mines a template; tests replace it.
	mineFunc func(ctx context.Context, b *engine.Block) (*engine.Block, engine.Result, error)

	chainMu sync.Mutex // serializes chain changes, from check to commit
	mineMu  sync.Mutex // one mining attempt at a time

	mu           sync.RWMutex // guards the fields below
	chain        []*block     // never modified in place below its length
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
	c, err := st.load(cfg.Target)
	if err != nil {
		st.close()
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		target:   cfg.Target,
		miner:    cfg.Miner,
		log:      cfg.Logger,
		store:    st,
		chain:    c.blocks,
		pool:     newPool(),
		peerSet:  map[string]struct{}{},
		selfURLs: map[string]struct{}{},
		work:     make(chan struct{}, 1),
		syncKick: make(chan struct{}, 1),
		announce: make(chan *block, 256),
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
		tx, err := pyjson.Decode(r.canon)
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
		n.pool.add(string(r.canon), r.seq)
	}
	if len(unminable) > 0 {
		if _, err := st.commit(&change{oldLen: len(c.blocks), fork: len(c.blocks), drop: unminable}); err != nil {
			st.close()
			return nil, err
		}
	}
	for _, p := range c.peers {
		n.peerSet[p] = struct{}{}
	}
	n.decodeBudget = newBudget(cfg.Limits.DecodeBytes)
	n.chainBudget = newBudget(cfg.Limits.ChainBytes)
	n.limiter = newRateLimiter(cfg.RateLimit, cfg.RateBurst, cfg.RateLoopback)
	n.metrics = newMetrics(n)
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
	return len(n.chain)
}

// Blocks returns the chain, genesis first. The blocks are shared and must
// not be modified.
func (n *Node) Blocks() []*engine.Block {
	n.mu.RLock()
	ch := n.chain
	n.mu.RUnlock()
	out := make([]*engine.Block, len(ch))
	for i, b := range ch {
		out[i] = b.Block
	}
	return out
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

// ChainJSON returns the node's GET /chain answer, the reference node's
// chain dump: {"length": N, "chain": [blocks with hash], "peers": [urls]}.
func (n *Node) ChainJSON() []byte {
	n.mu.RLock()
	ch := n.chain
	n.mu.RUnlock()
	wires := make([][]byte, len(ch))
	for i, b := range ch {
		wires[i] = b.wire
	}
	return encodeDump(wires, n.Peers())
}

// encodeDump returns a chain dump in the reference node's key order.
func encodeDump(wires [][]byte, peers []string) []byte {
	head, size := dumpHead(wires, peers)
	var buf bytes.Buffer
	buf.Grow(size)
	writeDump(&buf, head, wires, peers)
	return buf.Bytes()
}

// dumpHead returns the start of a chain dump, up to its first block, and
// the size of the whole dump.
func dumpHead(wires [][]byte, peers []string) ([]byte, int) {
	head := fmt.Appendf(nil, `{"length": %d, "chain": [`, len(wires))
	size := len(head) + len(`], "peers": [`) + len("]}")
	for i, w := range wires {
		if i > 0 {
			size += 2
		}
		size += len(w)
	}
	for i, p := range peers {
		if i > 0 {
			size += 2
		}
		size += len(pyjson.AppendString(nil, p))
	}
	return head, size
}

// writeDump writes a chain dump in pieces, the blocks from their shared
// wire form. It stops at the first write error.
func writeDump(w io.Writer, head []byte, wires [][]byte, peers []string) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.Write(head)
	for i, wire := range wires {
		if i > 0 {
			bw.WriteString(", ")
		}
		if _, err := bw.Write(wire); err != nil {
			return err
		}
	}
	bw.WriteString(`], "peers": [`)
	for i, p := range peers {
		if i > 0 {
			bw.WriteString(", ")
		}
		bw.Write(pyjson.AppendString(nil, p))
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// ErrPoolFull is returned by AddTransaction when the pending pool holds
// Limits.Pending transactions or Limits.PoolBytes bytes of them.
var ErrPoolFull = errors.New("node: the pending pool is full")

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

// canonTxs returns the canonical JSON of each transaction of the blocks.
func canonTxs(blocks []*block) []string {
	var out []string
	for _, b := range blocks {
		for _, tx := range b.Transactions {
			c, err := pyjson.Encode(tx)
			if err != nil {
				continue // a stored or validated block always encodes
			}
			out = append(out, string(c))
		}
	}
	return out
}

// applyResult says what a chain change did.
type applyResult struct {
	removed  int // blocks that left the chain
	orphaned int // their transactions that returned to the pool
	cleared  int // pending transactions found in the new blocks
}

// apply replaces the blocks from height fork on with added, durably and in
// memory: the new blocks' transactions leave the pool, the transactions of
// the blocks that leave the chain and are not in the new ones return to
// it, all in one store transaction. The mining in progress is cancelled.
// The caller holds chainMu and has validated added against the chain.
func (n *Node) apply(fork int, added []*block) (applyResult, error) {
	in := canonTxs(added)
	inSet := make(map[string]struct{}, len(in))
	for _, c := range in {
		inSet[c] = struct{}{}
	}
	n.mu.RLock()
	oldLen := len(n.chain)
	removed := n.chain[fork:]
	var drop []uint64
	var res applyResult
	for c := range inSet {
		if e, ok := n.pool.byCanon[c]; ok {
			drop = append(drop, e.seqs...)
			res.cleared++
		}
	}
	var restore [][]byte
	seen := map[string]struct{}{}
	for _, c := range canonTxs(removed) {
		if _, ok := inSet[c]; ok {
			continue
		}
		if _, ok := seen[c]; ok || n.pool.has(c) {
			continue
		}
		seen[c] = struct{}{}
		restore = append(restore, []byte(c))
	}
	n.mu.RUnlock()

	seqs, err := n.store.commit(&change{oldLen: oldLen, fork: fork, added: added, drop: drop, restore: restore})
	if err != nil {
		return res, err
	}
	res.removed = len(removed)
	res.orphaned = len(restore)

	n.mu.Lock()
	// A new backing array when blocks leave, so readers holding the old
	// slice keep a consistent chain.
	n.chain = append(n.chain[:fork:fork], added...)
	for c := range inSet {
		n.pool.remove(c)
	}
	for i, c := range restore {
		n.pool.add(string(c), seqs[i])
	}
	n.tipGen++
	if n.cancelMining != nil {
		n.cancelMining()
		n.cancelMining = nil
	}
	n.mu.Unlock()
	if len(restore) > 0 {
		n.wake()
	}
	return res, nil
}

// ErrKnownBlock is returned by AddBlock when the block is already on the
// chain.
var ErrKnownBlock = errors.New("node: block already in the chain")

// AddBlock appends a block a peer announced, after checking that it
// follows our last block (engine.ValidateNext): on a broken rule the error
// is an *engine.RuleError and the chain is unchanged. Its transactions
// leave the pending pool, and mining in progress restarts on the new tip.
// A block that would extend a longer chain than ours (its index is beyond
// our tip, or it is the next index on another branch) makes Run's syncer
// ask the peers for their chains.
func (n *Node) AddBlock(b *engine.Block) error {
	if err := checkBlockDepth(b); err != nil {
		return err
	}
	nb, err := newBlock(b)
	if err != nil {
		return &InputError{Field: "block", Msg: err.Error()}
	}
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	pos := len(n.chain)
	last := n.chain[pos-1]
	var known bool
	if b.Index >= 0 && b.Index < int64(pos) {
		known = string(n.chain[b.Index].wire) == string(nb.wire)
	}
	n.mu.RUnlock()
	if known {
		return ErrKnownBlock
	}
	if err := engine.ValidateNext(last.Block, pos, b, n.target); err != nil {
		var re *engine.RuleError
		if errors.As(err, &re) {
			n.metrics.rejected.WithLabelValues(string(re.Rule)).Inc()
			if b.Index > last.Index+1 || (b.Index == last.Index+1 && re.Rule == engine.RulePreviousHash) {
				n.kickSync()
			}
		}
		return err
	}
	res, err := n.apply(pos, []*block{nb})
	if err != nil {
		return err
	}
	n.metrics.accepted.Inc()
	n.log.Info("block accepted", "height", b.Index, "hash", b.Hash, "nonce", b.Nonce,
		"hashes", b.Nonce+1, "txs", len(b.Transactions), "cleared", res.cleared)
	return nil
}

// Adopt replaces our chain with blocks if they form a valid chain
// (engine.ValidateChain, the first error is returned) longer than ours:
// the longest valid chain wins. Transactions of our blocks that leave the
// chain return to the pending pool and those in the new blocks leave it.
// It reports whether the chain was replaced; origin names the source in
// the log.
func (n *Node) Adopt(blocks []*engine.Block, origin string) (bool, error) {
	for i, b := range blocks {
		if err := checkBlockDepth(b); err != nil {
			return false, fmt.Errorf("node: block %d: %w", i, err)
		}
	}
	if err := engine.ValidateChain(blocks, n.target); err != nil {
		var re *engine.RuleError
		if errors.As(err, &re) {
			n.metrics.rejected.WithLabelValues(string(re.Rule)).Inc()
		}
		return false, err
	}
	return n.adoptValid(blocks, origin)
}

// adoptValid is Adopt for a chain already validated.
func (n *Node) adoptValid(blocks []*engine.Block, origin string) (bool, error) {
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	ours := n.chain
	n.mu.RUnlock()
	if len(blocks) <= len(ours) {
		return false, nil
	}
	fork := 0
	for fork < len(ours) && ours[fork].Hash == blocks[fork].Hash {
		fork++
	}
	added := make([]*block, 0, len(blocks)-fork)
	for _, b := range blocks[fork:] {
		nb, err := newBlock(b)
		if err != nil {
			return false, err
		}
		added = append(added, nb)
	}
	res, err := n.apply(fork, added)
	if err != nil {
		return false, err
	}
	n.metrics.replacements.Inc()
	last := blocks[len(blocks)-1]
	n.log.Info("chain replaced", "from", origin, "height", last.Index, "hash", last.Hash,
		"fork", fork, "removed", res.removed, "added", len(added), "orphaned", res.orphaned, "cleared", res.cleared)
	return true, nil
}

// Mine seals pending transactions (the oldest, up to Limits.BlockTxBytes
// and Limits.BlockTxs) into the next block with the node's miner and
// appends it, as the reference node's /mine does. It returns nil when
// nothing is pending. When the tip changes while it mines (a peer's block
// or chain), the attempt is cancelled and it starts over on the new tip.
// The block is not announced; see Run and /mine.
func (n *Node) Mine(ctx context.Context) (*engine.Block, error) {
	b, err := n.mineOne(ctx)
	if b == nil {
		return nil, err
	}
	return b.Block, err
}

func (n *Node) mineOne(ctx context.Context) (*block, error) {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	for {
		n.mu.Lock()
		entries := n.pool.take(n.cfg.Limits.BlockTxBytes, n.cfg.Limits.BlockTxs)
		if len(entries) == 0 {
			n.mu.Unlock()
			return nil, nil
		}
		last := n.chain[len(n.chain)-1]
		gen := n.tipGen
		n.mu.Unlock()

		txs := make([]pyjson.Value, 0, len(entries))
		var bad []*poolEntry
		for _, e := range entries {
			tx, err := pyjson.Decode([]byte(e.canon))
			if err == nil {
				err = checkMinable(tx)
			}
			if err != nil {
				n.log.Warn("dropping a pending transaction that cannot be mined", "seq", e.seqs[0], "bytes", len(e.canon), "err", err)
				bad = append(bad, e)
				continue
			}
			txs = append(txs, tx)
		}
		if len(bad) > 0 {
			if err := n.dropPending(bad); err != nil {
				return nil, err
			}
			continue
		}

		n.mu.Lock()
		if n.tipGen != gen {
			n.mu.Unlock()
			continue
		}
		mctx, cancel := context.WithCancel(ctx)
		n.cancelMining = cancel
		n.mu.Unlock()

		tpl := &engine.Block{Index: last.Index + 1, Transactions: txs, Timestamp: now(), PreviousHash: last.Hash}
		mined, res, err := n.mineFunc(mctx, tpl)
		n.mu.Lock()
		n.cancelMining = nil
		n.mu.Unlock()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("node: mining stopped: %w", context.Cause(ctx))
			}
			if errors.Is(err, engine.ErrCanceled) {
				n.log.Debug("mining restarted on a new tip", "height", tpl.Index)
				continue
			}
			return nil, err
		}
		nb, err := newBlock(mined)
		if err != nil {
			return nil, err
		}
		n.chainMu.Lock()
		n.mu.RLock()
		stale := n.tipGen != gen
		pos := len(n.chain)
		n.mu.RUnlock()
		if stale {
			n.chainMu.Unlock()
			continue
		}
		_, err = n.apply(pos, []*block{nb})
		n.chainMu.Unlock()
		if err != nil {
			return nil, err
		}
		n.metrics.mined.Inc()
		rate := 0.0
		if s := res.Elapsed.Seconds(); s > 0 {
			rate = float64(res.Hashes) / s
		}
		n.log.Info("block mined", "height", mined.Index, "hash", mined.Hash, "nonce", mined.Nonce,
			"hashes", res.Hashes, "hash_rate", math.Round(rate), "elapsed", res.Elapsed, "txs", len(txs))
		return nb, nil
	}
}

// dropPending removes pending transactions from the store and the pool.
func (n *Node) dropPending(entries []*poolEntry) error {
	n.chainMu.Lock()
	defer n.chainMu.Unlock()
	n.mu.RLock()
	pos := len(n.chain)
	var drop []uint64
	for _, e := range entries {
		drop = append(drop, e.seqs...)
	}
	n.mu.RUnlock()
	if _, err := n.store.commit(&change{oldLen: pos, fork: pos, drop: drop}); err != nil {
		return err
	}
	n.mu.Lock()
	for _, e := range entries {
		n.pool.remove(e.canon)
	}
	n.mu.Unlock()
	return nil
}
