package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
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
	if s == "" {
		return "", &InputError{Field: "node_address", Msg: "is empty"}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", &InputError{Field: "node_address", Msg: fmt.Sprintf("%q is not a URL: %v", raw, err)}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", &InputError{Field: "node_address", Msg: fmt.Sprintf("%q: want an http:// or https:// URL", raw)}
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return "", &InputError{Field: "node_address", Msg: fmt.Sprintf("%q has no host", raw)}
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", &InputError{Field: "node_address", Msg: fmt.Sprintf("%q: want a base URL without user info, query or fragment", raw)}
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	p := path.Clean("/" + u.Path)
	if p != "/" {
		p += "/"
	}
	return u.Scheme + "://" + host + p, nil
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
// size limits.
type peerClient struct {
	http       *http.Client
	transport  *http.Transport
	timeout    time.Duration
	chainBytes int64
}

func newPeerClient(timeout time.Duration, chainBytes int64) *peerClient {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &peerClient{
		http: &http.Client{
			Transport: tr,
			// A peer's base URL is the address; redirects are not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport:  tr,
		timeout:    timeout,
		chainBytes: chainBytes,
	}
}

func (c *peerClient) close() { c.transport.CloseIdleConnections() }

// do sends one request to peer+endpoint and returns the answer's body, at
// most limit bytes, within total. A status other than want is an error.
func (c *peerClient) do(ctx context.Context, peer, method, endpoint string, body []byte, want int, limit int64, total time.Duration) ([]byte, error) {
	op := method + " " + endpoint
	fail := func(err error) error {
		pe := &PeerError{Peer: peer, Op: op, Err: err}
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			pe.Timeout = true
		}
		return pe
	}
	ctx, cancel := context.WithTimeout(ctx, total)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, peer+endpoint, rd)
	if err != nil {
		return nil, &PeerError{Peer: peer, Op: op, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "powchain-node")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fail(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fail(fmt.Errorf("reading the answer: %w", err))
	}
	if int64(len(data)) > limit {
		return nil, &PeerError{Peer: peer, Op: op, Err: fmt.Errorf("the answer is over the limit of %d bytes", limit)}
	}
	if resp.StatusCode != want {
		return nil, &PeerError{Peer: peer, Op: op, Status: resp.StatusCode, Err: fmt.Errorf("%q", snippet(data))}
	}
	return data, nil
}

// snippet shortens a peer's answer for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// isSelf reports whether a normalized URL is this node's own.
func (n *Node) isSelf(u string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	_, ok := n.selfURLs[u]
	return ok
}

// AddPeers normalizes and stores peer URLs, skipping this node's own URL
// and those already known, and returns the ones that are new. A URL that
// does not normalize is an *InputError and nothing is added.
func (n *Node) AddPeers(urls ...string) ([]string, error) {
	norm := make([]string, 0, len(urls))
	for _, u := range urls {
		p, err := NormalizePeer(u)
		if err != nil {
			return nil, err
		}
		norm = append(norm, p)
	}
	n.mu.RLock()
	var fresh []string
	for _, p := range norm {
		_, known := n.peerSet[p]
		_, self := n.selfURLs[p]
		if !known && !self && !slices.Contains(fresh, p) {
			fresh = append(fresh, p)
		}
	}
	n.mu.RUnlock()
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

// Registration is what RegisterWith did.
type Registration struct {
	Peer        string   // the peer's normalized URL
	TheirLength int      // the length of the chain it answered with
	Adopted     bool     // whether its chain replaced ours
	NewPeers    []string // peers learned (the peer itself included)
}

// RegisterWith registers this node, known to others as self, with the
// node at peerURL (POST register_node), as the reference node's
// /register_with does, and then: the peer and the peers it lists become
// ours, and its chain, fully validated, replaces ours if it is longer.
// When Run is running, this node also registers with each peer it learned
// of, so that registration is two-way across the network.
//
// A bad URL is an *InputError; a peer that cannot be reached in time or
// answers badly, including with an invalid chain, a *PeerError (its Err is
// the *engine.RuleError for an invalid chain). The peer is added only
// when it answered with a valid chain.
func (n *Node) RegisterWith(ctx context.Context, peerURL, self string) (*Registration, error) {
	peer, err := NormalizePeer(peerURL)
	if err != nil {
		return nil, err
	}
	if self, err = NormalizePeer(self); err != nil {
		return nil, &InputError{Field: "self", Msg: fmt.Sprintf("this node's own URL: %v", err)}
	}
	n.mu.Lock()
	n.selfURLs[self] = struct{}{}
	n.mu.Unlock()
	if peer == self {
		return nil, &InputError{Field: "node_address", Msg: fmt.Sprintf("%s is this node itself", peer)}
	}
	body, _ := pyjson.Encode(pyjson.Object{"node_address": self})
	op := "POST register_node"
	// paged=1 asks a powchain peer for its length and peers only; the
	// reference node ignores it and answers with its chain.
	data, err := n.peers.do(ctx, peer, "POST", "register_node?paged=1", body, http.StatusOK, n.peers.chainBytes, 10*n.peers.timeout)
	if err != nil {
		return nil, err
	}
	if length, peers, ok := parsePagedRegistration(data); ok {
		return n.registeredPaged(ctx, peer, self, length, peers)
	}
	dump, err := engine.DecodeDump(data)
	if err != nil {
		return nil, &PeerError{Peer: peer, Op: op, Err: fmt.Errorf("its answer is not a chain dump: %w", err)}
	}
	if err := engine.ValidateChain(dump.Blocks, n.target); err != nil {
		var re *engine.RuleError
		if errors.As(err, &re) {
			n.metrics.rejected.WithLabelValues(string(re.Rule)).Inc()
		}
		n.log.Warn("peer chain refused", "peer", peer, "err", err)
		return nil, &PeerError{Peer: peer, Op: op, Err: fmt.Errorf("its chain is invalid (%s), ours is unchanged: %w", ruleText(err), err)}
	}
	reg := &Registration{Peer: peer, TheirLength: len(dump.Blocks)}
	learned := []string{peer}
	for _, p := range dump.Peers {
		if q, err := NormalizePeer(p); err == nil && q != self {
			learned = append(learned, q)
		}
	}
	if reg.NewPeers, err = n.AddPeers(learned...); err != nil {
		return nil, err
	}
	if reg.Adopted, err = n.adoptValid(dump.Blocks, peer); err != nil {
		return nil, err
	}
	n.introduce(reg.NewPeers, peer, self)
	return reg, nil
}

// parsePagedRegistration reads the answer of a powchain peer to POST
// /register_node?paged=1: {"length": N, "peers": [...]} without a chain.
func parsePagedRegistration(data []byte) (int, []string, bool) {
	if len(data) > 1<<20 {
		return 0, nil, false
	}
	v, err := pyjson.Decode(data)
	obj, ok := v.(pyjson.Object)
	if err != nil || !ok {
		return 0, nil, false
	}
	if _, has := obj["chain"]; has {
		return 0, nil, false
	}
	length, err := intField(obj, "length")
	if err != nil {
		return 0, nil, false
	}
	var peers []string
	list, _ := obj["peers"].([]pyjson.Value)
	for _, p := range list {
		if s, ok := p.(string); ok {
			peers = append(peers, s)
		}
	}
	return length, peers, true
}

// registeredPaged finishes a registration with a powchain peer: its peers
// become ours, and if its chain is longer we catch up in pages (syncFrom).
func (n *Node) registeredPaged(ctx context.Context, peer, self string, length int, peers []string) (*Registration, error) {
	reg := &Registration{Peer: peer, TheirLength: length}
	learned := []string{peer}
	for _, p := range peers {
		if q, err := NormalizePeer(p); err == nil && q != self {
			learned = append(learned, q)
		}
	}
	var err error
	if reg.NewPeers, err = n.AddPeers(learned...); err != nil {
		return nil, err
	}
	if length > n.Len() {
		if reg.Adopted, err = n.syncFrom(ctx, peer, nil); err != nil {
			return reg, err
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

// introduce registers with peers learned from another peer's list, in the
// background while Run runs, so that they know this node too.
func (n *Node) introduce(learned []string, from, self string) {
	// The read lock is held while goroutines are added, so that Run,
	// which clears running under the write lock before it waits for them,
	// never waits on a group that is still growing from outside.
	n.mu.RLock()
	defer n.mu.RUnlock()
	ctx, running := n.runCtx, n.running
	if !running {
		return
	}
	for _, p := range learned {
		if p == from {
			continue
		}
		n.wg.Go(func() {
			if _, err := n.RegisterWith(ctx, p, self); err != nil && ctx.Err() == nil {
				n.log.Warn("registering with a learned peer failed", "peer", p, "err", err)
			}
		})
	}
}

// fetchChain asks a peer for its chain (GET chain).
func (n *Node) fetchChain(ctx context.Context, peer string) ([]*engine.Block, error) {
	data, err := n.peers.do(ctx, peer, "GET", "chain", nil, http.StatusOK, n.peers.chainBytes, 10*n.peers.timeout)
	if err != nil {
		return nil, err
	}
	dump, err := engine.DecodeDump(data)
	if err != nil {
		return nil, &PeerError{Peer: peer, Op: "GET chain", Err: fmt.Errorf("its answer is not a chain dump: %w", err)}
	}
	return dump.Blocks, nil
}

// Announce posts a block to every peer's /add_block (keys sorted, with
// hash, as the reference node announces), in parallel, and waits for the
// answers. Failures are logged: a peer that missed a block catches up by
// consensus.
func (n *Node) Announce(ctx context.Context, b *engine.Block) {
	nb, err := newBlock(b)
	if err != nil {
		return
	}
	n.announceBlock(ctx, nb)
}

func (n *Node) announceBlock(ctx context.Context, b *block) {
	var wg sync.WaitGroup
	for _, p := range n.Peers() {
		wg.Go(func() {
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
	wg.Wait()
}
