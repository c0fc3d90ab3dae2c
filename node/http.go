package node

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// Handler returns the node's HTTP API: the reference node's endpoints
// (/new_transaction, /chain, /mine, /pending_tx, /register_node,
// /register_with, /add_block) with their methods, bodies and success
// codes, and /health and /metrics. See the package documentation.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /new_transaction", n.limited(n.handleNewTransaction))
	mux.HandleFunc("GET /chain", n.handleChain)
	mux.HandleFunc("GET /mine", n.limited(n.handleMine))
	mux.HandleFunc("POST /mine", n.limited(n.handleMine))
	mux.HandleFunc("GET /pending_tx", n.handlePending)
	mux.HandleFunc("POST /register_node", n.limited(n.admin(n.handleRegisterNode)))
	mux.HandleFunc("POST /register_with", n.limited(n.admin(n.handleRegisterWith)))
	mux.HandleFunc("DELETE /peers/{url...}", n.limited(n.admin(n.handleRemovePeer)))
	mux.HandleFunc("POST /add_block", n.limited(n.handleAddBlock))
	mux.HandleFunc("GET /health", n.handleHealth)
	mux.HandleFunc("GET /blocks", n.handleBlocks)
	mux.HandleFunc("GET /headers", n.handleHeaders)
	mux.HandleFunc("GET /workers", n.limited(n.handleWorkers))
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	n.handleDashboard(mux)
	return n.conns.proxiedCap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The reference node builds URLs as base + "/endpoint", which gives
		// "//endpoint" for a base with a trailing slash. Route it, rather
		// than redirect: a redirected POST becomes a GET in most clients.
		if strings.Contains(r.URL.Path, "//") && !strings.HasPrefix(r.URL.Path, "/peers/") {
			r.URL.Path = path.Clean(r.URL.Path)
			r.URL.RawPath = ""
		}
		mux.ServeHTTP(w, r)
	}))
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg)
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
}

// POST /new_transaction: 201 "Success" once the transaction is on disk.
func (n *Node) handleNewTransaction(w http.ResponseWriter, r *http.Request) {
	v, ok := n.readJSON(w, r, body{limit: n.cfg.Limits.TxBytes, prefix: "Invalid transaction data: ", depth: MaxTxDepth, needJSON: true})
	if !ok {
		return
	}
	tx, err := CheckTransaction(v)
	if err == nil {
		_, err = n.AddTransaction(tx)
	}
	var ie *InputError
	switch {
	case err == nil:
		writeText(w, http.StatusCreated, "Success")
	case errors.As(err, &ie):
		writeText(w, http.StatusBadRequest, "Invalid transaction data: "+userText(err))
	case errors.Is(err, ErrPoolFull):
		w.Header().Set("Retry-After", "5")
		writeText(w, http.StatusServiceUnavailable, "The pending pool is full; retry later")
	default:
		n.log.Error("storing a transaction failed", "err", err)
		writeText(w, http.StatusInternalServerError, err.Error())
	}
}

// GET /chain: the chain dump.
func (n *Node) handleChain(w http.ResponseWriter, _ *http.Request) {
	n.writeChain(w)
}

// writeChain answers 200 with the chain dump, streamed from the store
// (Node.WriteChain) through the answer writer: a client that reads slowly
// holds nothing but a read transaction and a 64 KiB buffer, and one that
// stops reading is cut off by the write deadline. An error after the
// first byte can only cut the answer short, and is logged.
func (n *Node) writeChain(w http.ResponseWriter) {
	tx, peers, err := n.view()
	if err != nil {
		n.log.Error("reading the chain failed", "err", err)
		writeText(w, http.StatusInternalServerError, "reading the chain failed")
		return
	}
	defer tx.Rollback()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	aw := n.answerWriter(w)
	if err := n.store.writeDump(tx, aw, peers); err != nil {
		n.log.Debug("streaming the chain stopped", "err", err)
	} else {
		aw.done()
	}
}

// answerWriter writes a large answer with a deadline for each piece:
// Config.AnswerTimeout to hand each piece (up to 32 KiB) to a client, so
// that a client that stops reading is cut off and cannot hold the node's
// memory or a connection for ever.
type answerWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (n *Node) answerWriter(w http.ResponseWriter) *answerWriter {
	return &answerWriter{w: w, rc: http.NewResponseController(w), d: n.cfg.AnswerTimeout}
}

func (a *answerWriter) Write(p []byte) (int, error) {
	a.rc.SetWriteDeadline(time.Now().Add(a.d))
	return a.w.Write(p)
}

// done clears the deadline, which would otherwise stay on the connection
// for the next request it carries.
func (a *answerWriter) done() { a.rc.SetWriteDeadline(time.Time{}) }

// GET or POST /mine: mine the pending transactions into one block and
// announce it, as the reference node does.
func (n *Node) handleMine(w http.ResponseWriter, r *http.Request) {
	b, err := n.mineOne(r.Context())
	switch {
	case err != nil && r.Context().Err() != nil:
		writeText(w, http.StatusServiceUnavailable, "mining stopped: the node is shutting down or the client left")
	case err != nil:
		n.log.Error("mining failed", "err", err)
		writeText(w, http.StatusInternalServerError, err.Error())
	case b == nil:
		writeText(w, http.StatusOK, "No transactions to mine")
	default:
		n.announceBlock(r.Context(), b)
		writeText(w, http.StatusOK, fmt.Sprintf("Block #%d is mined.", b.Index))
	}
}

// GET /pending_tx: the pending transactions as a JSON list.
func (n *Node) handlePending(w http.ResponseWriter, _ *http.Request) {
	n.mu.RLock()
	txs := n.pool.all()
	n.mu.RUnlock()
	size := 2
	for i, t := range txs {
		if i > 0 {
			size += 2
		}
		size += len(t)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	aw := n.answerWriter(w)
	bw := bufio.NewWriterSize(aw, 32<<10)
	bw.WriteByte('[')
	for i, t := range txs {
		if i > 0 {
			bw.WriteString(", ")
		}
		if _, err := bw.WriteString(t); err != nil {
			return
		}
	}
	bw.WriteByte(']')
	if bw.Flush() == nil {
		aw.done()
	}
}

// nodeAddress reads the {"node_address": URL} body of the registration
// endpoints.
func (n *Node) nodeAddress(w http.ResponseWriter, r *http.Request) (string, bool) {
	v, ok := n.readJSON(w, r, body{limit: n.cfg.Limits.ControlBytes, prefix: "Invalid data: ", depth: 2, needJSON: true})
	if !ok {
		return "", false
	}
	obj, ok := v.(pyjson.Object)
	if !ok {
		writeText(w, http.StatusBadRequest, "Invalid data: want a JSON object with \"node_address\", got "+pyjson.TypeName(v))
		return "", false
	}
	a, ok := obj["node_address"]
	if !ok {
		writeText(w, http.StatusBadRequest, `Invalid data: field "node_address": missing`)
		return "", false
	}
	s, ok := a.(string)
	if !ok {
		writeText(w, http.StatusBadRequest, `Invalid data: field "node_address": want a URL string, got `+pyjson.TypeName(a))
		return "", false
	}
	u, err := NormalizePeer(s)
	if err != nil {
		writeText(w, http.StatusBadRequest, "Invalid data: "+userText(err))
		return "", false
	}
	return u, true
}

// POST /register_node: add the caller as a peer and answer with the chain.
func (n *Node) handleRegisterNode(w http.ResponseWriter, r *http.Request) {
	u, ok := n.nodeAddress(w, r)
	if !ok {
		return
	}
	if n.isSelf(u) {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("Invalid data: %s is this node itself", u))
		return
	}
	var ie *InputError
	switch _, err := n.AddPeers(u); {
	case errors.As(err, &ie):
		writeText(w, http.StatusBadRequest, "Invalid data: "+userText(err))
		return
	case errors.Is(err, ErrTooManyPeers):
		w.Header().Set("Retry-After", "60")
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("The peer list is full (%d peers)", n.cfg.Limits.Peers))
		return
	case err != nil:
		n.log.Error("storing a peer failed", "err", err)
		writeText(w, http.StatusInternalServerError, "storing the peer failed")
		return
	}
	if r.URL.Query().Get("paged") == "1" {
		// A powchain peer fetches the blocks in pages (GET /blocks).
		writeJSON(w, http.StatusOK, pagedRegistration(n.Len(), n.Peers()))
		return
	}
	n.writeChain(w)
}

// admin wraps a handler that changes the peer list: with
// Config.AdminToken set, it requires "Authorization: Bearer TOKEN" (401
// otherwise).
func (n *Node) admin(h http.HandlerFunc) http.HandlerFunc {
	if n.cfg.AdminToken == "" {
		return h
	}
	want := []byte("Bearer " + n.cfg.AdminToken)
	return func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="powchain admin"`)
			refuse(w, http.StatusUnauthorized, "This endpoint needs the admin token: send Authorization: Bearer TOKEN")
			return
		}
		h(w, r)
	}
}

// DELETE /peers/{url}: forget a peer. The URL is percent-encoded into
// the path (DELETE /peers/http%3A%2F%2F127.0.0.1%3A8001%2F).
func (n *Node) handleRemovePeer(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("url")
	found, err := n.RemovePeer(raw)
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		writeText(w, http.StatusBadRequest, "Invalid data: "+userText(err))
	case err != nil:
		n.log.Error("removing a peer failed", "err", err)
		writeText(w, http.StatusInternalServerError, "removing the peer failed")
	case !found:
		writeText(w, http.StatusNotFound, fmt.Sprintf("%q is not a peer of this node", raw))
	default:
		writeText(w, http.StatusOK, "Peer removed")
	}
}

// selfURL is the URL this node gives peers: the advertised one, or the
// host the request came to (the reference node's request.host_url).
func (n *Node) selfURL(r *http.Request) string {
	if n.cfg.AdvertiseURL != "" {
		return n.cfg.AdvertiseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/"
}

// POST /register_with: register with the given node and adopt its chain
// if it is valid and longer.
func (n *Node) handleRegisterWith(w http.ResponseWriter, r *http.Request) {
	u, ok := n.nodeAddress(w, r)
	if !ok {
		return
	}
	reg, err := n.RegisterWith(r.Context(), u, n.selfURL(r))
	var ie *InputError
	var pe *PeerError
	switch {
	case err == nil:
		n.log.Info("registered", "peer", reg.Peer, "their_length", reg.TheirLength, "adopted", reg.Adopted, "new_peers", len(reg.NewPeers))
		writeText(w, http.StatusOK, "Registration successful")
	case errors.As(err, &ie):
		writeText(w, http.StatusBadRequest, "Invalid data: "+userText(err))
	case errors.As(err, &pe):
		n.log.Warn("registration failed", "peer", u, "err", err)
		writeText(w, pe.HTTPStatus(), "Registration failed: "+userText(err))
	default:
		n.log.Error("registration failed", "peer", u, "err", err)
		writeText(w, http.StatusInternalServerError, "Registration failed: storing the peer or the chain failed")
	}
}

// POST /add_block: a block a peer announces.
func (n *Node) handleAddBlock(w http.ResponseWriter, r *http.Request) {
	const discarded = "The block was discarded by the node: "
	v, ok := n.readJSON(w, r, body{limit: n.cfg.Limits.BlockBytes, prefix: discarded, depth: MaxBlockDepth})
	if !ok {
		return
	}
	b, err := engine.BlockFromValue(v, engine.BlockOptions{})
	if err == nil {
		err = n.AddBlock(b)
	}
	var re *engine.RuleError
	var fe *engine.FieldError
	var ie *InputError
	switch {
	case err == nil:
		writeText(w, http.StatusCreated, "Block added to the chain")
	case errors.Is(err, ErrKnownBlock):
		writeText(w, http.StatusOK, "Block already in the chain")
	case errors.As(err, &re):
		code := http.StatusConflict // it does not fit our chain
		if re.Rule == engine.RuleHash || re.Rule == engine.RuleDifficulty {
			code = http.StatusBadRequest // it is not a valid block at all
		}
		writeText(w, code, fmt.Sprintf("%sblock %d breaks rule %s: %s", discarded, re.Index, re.Rule, re.Detail))
	case errors.As(err, &fe), errors.As(err, &ie):
		writeText(w, http.StatusBadRequest, discarded+userText(err))
	default:
		n.log.Error("adding a block failed", "err", err)
		writeText(w, http.StatusInternalServerError, err.Error())
	}
}

// Health is the answer of GET /health.
type Health struct {
	Status     string `json:"status"` // "ok"
	Length     int    `json:"length"` // blocks, genesis included
	Height     int64  `json:"height"` // index of the last block
	LastHash   string `json:"last_hash"`
	Pending    int    `json:"pending"`
	Peers      int    `json:"peers"`
	Difficulty string `json:"difficulty"`
	AutoMine   bool   `json:"auto_mine"`
	Hasher     string `json:"hasher"`
	Workers    int    `json:"workers"` // local mining goroutines: 0 when only remote workers (a Fleet) mine
}

// Health returns the node's state in brief.
func (n *Node) Health() Health {
	n.mu.RLock()
	defer n.mu.RUnlock()
	last := n.tip
	return Health{
		Status: "ok", Length: n.index.len(), Height: last.Index, LastHash: last.Hash,
		Pending: n.pool.len(), Peers: len(n.peerSet), Difficulty: n.target.String(),
		AutoMine: n.cfg.AutoMine, Hasher: n.miner.Hasher().Name(), Workers: n.workers,
	}
}

// GET /health.
func (n *Node) handleHealth(w http.ResponseWriter, _ *http.Request) {
	body, _ := json.Marshal(n.Health())
	writeJSON(w, http.StatusOK, body)
}
