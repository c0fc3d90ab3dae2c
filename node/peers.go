package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// NormalizePeer returns the canonical form of a peer's base URL, the form
// peers are stored, compared and listed in: scheme http or https, host in
// lower case, the scheme's default port dropped, no user info, query or
// fragment, and a path that ends in "/" (so "http://127.0.0.1:8000" and
// "http://127.0.0.1:8000/" are one peer, listed as the latter, as the
// reference node lists them). Other URLs are an *InputError.
func NormalizePeer(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	bad := func(format string, args ...any) (string, error) {
		return "", &InputError{Field: "node_address", Msg: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return bad("is empty")
	}
	if len(s) > maxPeerURL {
		return bad("is %d bytes long, over the limit of %d", len(s), maxPeerURL)
	}
	for _, c := range []byte(s) {
		if c < 0x20 || c == 0x7f {
			return bad("%q contains the control character %q", raw, c)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("%q is not a URL: %v", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("%q: want an http:// or https:// URL", raw)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return bad("%q has no host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return bad("%q: want a base URL without user info, query or fragment", raw)
	}
	host := strings.ToLower(u.Hostname())
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return bad("%q: an address with a zone is not a peer address", raw)
		}
		host = a.String()
	} else if strings.Contains(host, ":") || !validHostName(host) {
		return bad("%q: the host %q is not a host name or an IP address", raw, u.Hostname())
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("%q: port %s is out of the range 1-65535", raw, port)
		}
		port = strconv.Itoa(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("%q: the port after the colon is missing", raw)
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	for _, c := range []byte(u.Path) {
		if !pathByte(c) {
			return bad("%q: the path has the character %q, which a base URL may not have", raw, c)
		}
	}
	p := path.Clean("/" + u.Path)
	if p != "/" {
		p += "/"
	}
	return u.Scheme + "://" + host + p, nil
}

// maxPeerURL is the longest peer URL accepted.
const maxPeerURL = 512

// pathByte reports whether c may appear, decoded, in a peer's base path:
// letters, digits and the unreserved and sub-delimiter characters, ':',
// '@' and '/'.
func pathByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}

// PeerError is returned when a peer cannot be reached in time or answers
// with an error or with something that is not what was asked for.
type PeerError struct {
	Peer    string // the peer's base URL
	Op      string // what was asked, as "POST register_node"
	Status  int    // the peer's HTTP status, 0 when it did not answer
	Timeout bool   // no answer in time
	Err     error
}

// Error names the peer, the request and what went wrong.
func (e *PeerError) Error() string {
	switch {
	case e.Status != 0:
		return fmt.Sprintf("node: peer %s: %s answered %d: %v", e.Peer, e.Op, e.Status, e.Err)
	case e.Timeout:
		return fmt.Sprintf("node: peer %s: %s: no answer in time: %v", e.Peer, e.Op, e.Err)
	}
	return fmt.Sprintf("node: peer %s: %s: %v", e.Peer, e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *PeerError) Unwrap() error { return e.Err }

// HTTPStatus is the status a node answers its own client with when a peer
// fails: 504 when the peer did not answer in time, 502 otherwise.
func (e *PeerError) HTTPStatus() int {
	if e.Timeout {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// peerClient makes the node's requests to its peers, with timeouts and
// size limits, dialing only what the node's PeerPolicy allows.
type peerClient struct {
	http      *http.Client
	transport *http.Transport
	timeout   time.Duration
}

func newPeerClient(timeout time.Duration, policy *PeerPolicy) *peerClient {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:            policy.dialContext(d),
		Proxy:                  nil, // a proxy would dial on our behalf, past the policy
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxIdleConnsPerHost:    4,
		MaxConnsPerHost:        8,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &peerClient{
		http: &http.Client{
			Transport: tr,
			// A peer's base URL is the address; redirects are not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport: tr,
		timeout:   timeout,
	}
}

func (c *peerClient) close() { c.transport.CloseIdleConnections() }

// peerFail makes the *PeerError of a failed request.
func peerFail(peer, op string, err error) error {
	pe := &PeerError{Peer: peer, Op: op, Err: err}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		pe.Timeout = true
	}
	return pe
}

// answer is a peer's answer being read: its body stops with an error when
// the whole answer takes longer than its deadline or no byte arrives for
// the client's timeout.
type answer struct {
	body   io.ReadCloser
	ctx    context.Context
	idle   *time.Timer
	idleD  time.Duration
	cancel func()
}

func (a *answer) Read(p []byte) (int, error) {
	n, err := a.body.Read(p)
	if n > 0 {
		a.idle.Reset(a.idleD)
	}
	if err != nil && err != io.EOF && a.ctx.Err() != nil {
		err = context.Cause(a.ctx)
	}
	return n, err
}

func (a *answer) Close() error {
	a.idle.Stop()
	a.cancel()
	return a.body.Close()
}

// timeoutError is a deadline passed; it is a net.Error that says so.
type timeoutError struct{ msg string }

func (e timeoutError) Error() string   { return e.msg }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }

// open sends one request to peer+endpoint and returns the answer's body
// once the peer answered want, within total for the whole answer and
// with no pause in the answer longer than the client's timeout. A status
// other than want is an error that names the status; the peer's body is
// never repeated to anyone.
func (c *peerClient) open(ctx context.Context, peer, method, endpoint string, body []byte, want int, total time.Duration) (*answer, error) {
	op := method + " " + endpoint
	tctx, cancelTotal := context.WithTimeoutCause(ctx, total, timeoutError{fmt.Sprintf("the answer took longer than %v", total)})
	rctx, cancelIdle := context.WithCancelCause(tctx)
	cancel := func() { cancelIdle(nil); cancelTotal() }
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, peer+endpoint, rd)
	if err != nil {
		cancel()
		return nil, &PeerError{Peer: peer, Op: op, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "powchain-node")
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, peerFail(peer, op, err)
	}
	if resp.StatusCode != want {
		resp.Body.Close()
		cancel()
		return nil, &PeerError{Peer: peer, Op: op, Status: resp.StatusCode, Err: fmt.Errorf("want %d", want)}
	}
	a := &answer{body: resp.Body, ctx: rctx, idleD: c.timeout, cancel: cancel}
	a.idle = time.AfterFunc(c.timeout, func() {
		cancelIdle(timeoutError{fmt.Sprintf("no data for %v", c.timeout)})
	})
	return a, nil
}

// do sends one request and reads the answer's body, at most limit bytes.
func (c *peerClient) do(ctx context.Context, peer, method, endpoint string, body []byte, want int, limit int64, total time.Duration) ([]byte, error) {
	a, err := c.open(ctx, peer, method, endpoint, body, want, total)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	op := method + " " + endpoint
	data, err := io.ReadAll(io.LimitReader(a, limit+1))
	if err != nil {
		return nil, peerFail(peer, op, fmt.Errorf("reading the answer: %w", err))
	}
	if int64(len(data)) > limit {
		return nil, &PeerError{Peer: peer, Op: op, Err: fmt.Errorf("the answer is over the limit of %d bytes", limit)}
	}
	return data, nil
}

// peerChainOrLength sends a request whose answer is a chain dump and
// reads it as a stream (see chainReader), handing the valid blocks to
// each as they arrive; it returns the dump's peers. With paged, it also
// takes the answer of a powchain peer to POST /register_node?paged=1,
// {"length": N, "peers": [...]} without the chain, and returns N; -1 for
// a chain dump. An invalid chain is a *PeerError wrapping the
// *engine.RuleError; an error each returns is returned as it is.
func (n *Node) peerChainOrLength(ctx context.Context, peer, method, endpoint string, body []byte, paged bool, each func(pos int, b *engine.Block) error) (*engine.Dump, int, error) {
	a, err := n.peers.open(ctx, peer, method, endpoint, body, http.StatusOK, 10*n.peers.timeout)
	if err != nil {
		return nil, -1, err
	}
	defer a.Close()
	op := method + " " + endpoint
	var eachErr error
	dump, length, err := n.readChainOrLength(ctx, a, paged, func(pos int, b *engine.Block) error {
		eachErr = each(pos, b)
		return eachErr
	})
	if err != nil && eachErr != nil {
		return nil, -1, eachErr
	}
	if err != nil {
		var re *engine.RuleError
		var ne net.Error
		switch {
		case errors.As(err, &re):
			n.metrics.rejected.WithLabelValues(string(re.Rule)).Inc()
			return nil, -1, &PeerError{Peer: peer, Op: op, Err: fmt.Errorf("its chain is invalid (%s), ours is unchanged: %w", ruleText(err), err)}
		case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
			return nil, -1, peerFail(peer, op, fmt.Errorf("reading the answer: %w", err))
		}
		return nil, -1, &PeerError{Peer: peer, Op: op, Err: fmt.Errorf("its answer is not a valid chain dump: %w", err)}
	}
	return dump, length, nil
}

// isSelf reports whether a normalized URL is this node's own.
func (n *Node) isSelf(u string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	_, ok := n.selfURLs[u]
	return ok
}

// ErrTooManyPeers is returned by AddPeers when the node has
// Limits.Peers peers.
var ErrTooManyPeers = errors.New("node: the peer list is full")

// AddPeers normalizes and stores peer URLs, skipping this node's own URL
// and those already known, and returns the ones that are new. A URL that
// does not normalize or that the PeerPolicy refuses is an *InputError,
// and nothing is added; when the new URLs would take the node past
// Limits.Peers, nothing is added and the error is ErrTooManyPeers.
func (n *Node) AddPeers(urls ...string) ([]string, error) {
	norm := make([]string, 0, len(urls))
	for _, u := range urls {
		p, err := NormalizePeer(u)
		if err != nil {
			return nil, err
		}
		if err := n.policy.check(p); err != nil {
			return nil, err
		}
		norm = append(norm, p)
	}
	return n.addPeers(norm, false)
}

// addPeers stores normalized, allowed peer URLs. With fit, it adds as
// many as the peer limit leaves room for; without, all or none.
func (n *Node) addPeers(norm []string, fit bool) ([]string, error) {
	n.peerMu.Lock()
	defer n.peerMu.Unlock()
	n.mu.RLock()
	var fresh []string
	for _, p := range norm {
		_, known := n.peerSet[p]
		_, self := n.selfURLs[p]
		if !known && !self && !slices.Contains(fresh, p) {
			fresh = append(fresh, p)
		}
	}
	room := n.cfg.Limits.Peers - len(n.peerSet)
	n.mu.RUnlock()
	if len(fresh) > room {
		if !fit {
			return nil, ErrTooManyPeers
		}
		fresh = fresh[:max(room, 0)]
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	if err := n.store.addPeers(fresh); err != nil {
		return nil, err
	}
	n.mu.Lock()
	for _, p := range fresh {
		n.peerSet[p] = struct{}{}
	}
	total := len(n.peerSet)
	n.mu.Unlock()
	n.events.peersAdded(fresh, total)
	for _, p := range fresh {
		n.log.Info("peer added", "peer", p)
	}
	return fresh, nil
}

// RemovePeer forgets a peer. It reports whether the peer was known.
func (n *Node) RemovePeer(peerURL string) (bool, error) {
	p, err := NormalizePeer(peerURL)
	if err != nil {
		return false, err
	}
	n.peerMu.Lock()
	defer n.peerMu.Unlock()
	n.mu.RLock()
	_, known := n.peerSet[p]
	n.mu.RUnlock()
	if !known {
		return false, nil
	}
	if err := n.store.removePeer(p); err != nil {
		return false, err
	}
	n.mu.Lock()
	delete(n.peerSet, p)
	total := len(n.peerSet)
	n.mu.Unlock()
	n.events.peersRemoved([]string{p}, total)
	n.health.forget(p)
	n.log.Info("peer removed", "peer", p)
	return true, nil
}

// Registration is what RegisterWith did.
type Registration struct {
	Peer        string   // the peer's normalized URL
	TheirLength int      // the length of the chain it answered with
	Adopted     bool     // whether its chain replaced ours
	NewPeers    []string // peers learned (the peer itself included)
}

// maxSelfURLs is how many of its own URLs (from the advertise URL, then
// from the Host of /register_with requests) a node remembers, so that it
// never registers with itself.
const maxSelfURLs = 8

// maxLearned is how many new peers one registration may teach the node.
const maxLearned = 16

// RegisterWith registers this node, known to others as self, with the
// node at peerURL (POST register_node), as the reference node's
// /register_with does, and then: the peer and the peers it lists become
// ours (at most maxLearned new ones, those the PeerPolicy allows, within
// Limits.Peers), and its chain, fully validated, replaces ours if it is
// longer. When Run is running, this node also registers with each peer it
// learned of, a few at a time, so that registration is two-way across the
// network.
//
// A bad URL or one the PeerPolicy refuses is an *InputError; a peer that
// cannot be reached in time or answers badly, including with an invalid
// chain, a *PeerError (its Err is the *engine.RuleError for an invalid
// chain). The peer is added only when it answered with a valid chain.
func (n *Node) RegisterWith(ctx context.Context, peerURL, self string) (*Registration, error) {
	peer, err := NormalizePeer(peerURL)
	if err != nil {
		return nil, err
	}
	if self, err = NormalizePeer(self); err != nil {
		return nil, &InputError{Field: "self", Msg: fmt.Sprintf("this node's own URL: %v", err)}
	}
	n.mu.Lock()
	if len(n.selfURLs) < maxSelfURLs {
		n.selfURLs[self] = struct{}{}
	}
	n.mu.Unlock()
	if peer == self || n.isSelf(peer) {
		return nil, &InputError{Field: "node_address", Msg: fmt.Sprintf("%s is this node itself", peer)}
	}
	if err := n.policy.check(peer); err != nil {
		return nil, err
	}
	body, _ := pyjson.Encode(pyjson.Object{"node_address": self})
	// paged=1 asks a powchain peer for its length and peers only, and the
	// chain is then fetched in pages; the reference node ignores it and
	// answers with its chain.
	// A reference peer's chain is read as a stream, staged and adopted
	// if it is longer than ours (streamChain); the peers are added only
	// when the answer was a valid chain.
	adopted, sc, err := n.streamChain(ctx, peer, "POST", "register_node?paged=1", body, true)
	if err != nil {
		var re *engine.RuleError
		if errors.As(err, &re) {
			n.log.Warn("peer chain refused", "peer", peer, "err", err)
		}
		return nil, err
	}
	reg := &Registration{Peer: peer, TheirLength: sc.blocks, Adopted: adopted}
	if sc.length >= 0 {
		reg.TheirLength = sc.length
	}
	learned := []string{peer}
	for _, p := range sc.peers {
		q, err := NormalizePeer(p)
		if err != nil || q == self || slices.Contains(learned, q) || n.policy.check(q) != nil {
			continue
		}
		if learned = append(learned, q); len(learned) > maxLearned {
			break
		}
	}
	if reg.NewPeers, err = n.addPeers(learned, true); err != nil {
		return nil, err
	}
	if sc.length > n.Len() {
		if reg.Adopted, err = n.syncFrom(ctx, peer, nil); err != nil {
			return nil, err
		}
	}
	n.introduce(reg.NewPeers, peer, self)
	return reg, nil
}

// ruleText names the block and rule of a validation error.
func ruleText(err error) string {
	var re *engine.RuleError
	if errors.As(err, &re) {
		return fmt.Sprintf("block %d breaks rule %s", re.Index, re.Rule)
	}
	return "no blocks"
}

// intro is a registration Run's introducers make.
type intro struct{ peer, self string }

// introduce queues registrations with peers learned from another peer's
// list, for Run's introducers, so that they know this node too. When the
// queue is full the rest are dropped: consensus still reaches them.
func (n *Node) introduce(learned []string, from, self string) {
	n.mu.RLock()
	running := n.running
	n.mu.RUnlock()
	if !running {
		return
	}
	for _, p := range learned {
		if p == from {
			continue
		}
		select {
		case n.intros <- intro{p, self}:
		default:
			n.log.Debug("introduction queue full", "peer", p)
		}
	}
}

// introducer registers with the peers introduce queued. It must be run as
// a goroutine by Run.
func (n *Node) introducer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-n.intros:
			if _, err := n.RegisterWith(ctx, in.peer, in.self); err != nil && ctx.Err() == nil {
				n.log.Warn("registering with a learned peer failed", "peer", in.peer, "err", err)
			}
		}
	}
}

// fanOut runs fn for each peer on at most workers goroutines and returns
// when all are done.
func fanOut(peers []string, workers int, fn func(peer string)) {
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range min(workers, len(peers)) {
		wg.Go(func() {
			for p := range jobs {
				fn(p)
			}
		})
	}
	for _, p := range peers {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
}

// fanOutWorkers is how many peers a sync round or an announcement talks to
// at once.
const fanOutWorkers = 8

// Announce posts a block to every peer's /add_block (keys sorted, with
// hash, as the reference node announces), a few peers at a time, and
// waits for the answers. Failures are logged: a peer that missed a block
// catches up by consensus.
func (n *Node) Announce(ctx context.Context, b *engine.Block) {
	nb, err := newBlock(b)
	if err != nil {
		return
	}
	n.announceBlock(ctx, nb)
}

func (n *Node) announceBlock(ctx context.Context, b *block) {
	fanOut(n.Peers(), fanOutWorkers, func(p string) {
		_, err := n.peers.do(ctx, p, "POST", "add_block", b.wire, http.StatusCreated, 64<<10, n.peers.timeout)
		var pe *PeerError
		if errors.As(err, &pe) && pe.Status == http.StatusOK {
			return // it already had the block
		}
		if err != nil && ctx.Err() == nil {
			n.log.Debug("announce: peer refused or failed", "peer", p, "height", b.Index, "err", err)
		}
	})
}

// peerHealth remembers the peers that failed, for Sync's back-off.
type peerHealth struct {
	mu    sync.Mutex
	fails map[string]*failure
}

type failure struct {
	count int
	until time.Time
}

// maxBackoff is the longest pause before a failing peer is asked again.
const maxBackoff = 10 * time.Minute

// due returns the peers not in a back-off pause at now.
func (h *peerHealth) due(peers []string, now time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := peers[:0:0]
	for _, p := range peers {
		if f, ok := h.fails[p]; ok && now.Before(f.until) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// failed starts or doubles a peer's pause: base after the first failure,
// twice as long after each next one, at most maxBackoff.
func (h *peerHealth) failed(p string, now time.Time, base time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fails == nil {
		h.fails = map[string]*failure{}
	}
	f := h.fails[p]
	if f == nil {
		f = &failure{}
		h.fails[p] = f
	}
	f.count++
	d := base
	for i := 1; i < f.count && d < maxBackoff; i++ {
		d *= 2
	}
	f.until = now.Add(min(d, maxBackoff))
}

// ok ends a peer's pause.
func (h *peerHealth) ok(p string) { h.forget(p) }

func (h *peerHealth) forget(p string) {
	h.mu.Lock()
	delete(h.fails, p)
	h.mu.Unlock()
}
