package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

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
	mux.HandleFunc("POST /new_transaction", n.handleNewTransaction)
	mux.HandleFunc("GET /chain", n.handleChain)
	mux.HandleFunc("GET /mine", n.handleMine)
	mux.HandleFunc("POST /mine", n.handleMine)
	mux.HandleFunc("GET /pending_tx", n.handlePending)
	mux.HandleFunc("POST /register_node", n.handleRegisterNode)
	mux.HandleFunc("POST /register_with", n.handleRegisterWith)
	mux.HandleFunc("POST /add_block", n.handleAddBlock)
	mux.HandleFunc("GET /health", n.handleHealth)
	mux.HandleFunc("GET /workers", n.handleWorkers)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics.reg, promhttp.HandlerOpts{}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The reference node builds URLs as base + "/endpoint", which gives
		// "//endpoint" for a base with a trailing slash. Route it, rather
		// than redirect: a redirected POST becomes a GET in most clients.
		if strings.Contains(r.URL.Path, "//") {
			r.URL.Path = path.Clean(r.URL.Path)
			r.URL.RawPath = ""
		}
		mux.ServeHTTP(w, r)
	})
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

// readJSON reads a request body of at most limit bytes and decodes it as
// CPython's json.loads would. On failure it has answered 400 or 413.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, prefix string) (pyjson.Value, bool) {
	if r.ContentLength > limit {
		writeText(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%sthe request body of %d bytes is over the limit of %d bytes", prefix, r.ContentLength, limit))
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeText(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%sthe request body is over the limit of %d bytes", prefix, limit))
		} else {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("%sreading the request body: %v", prefix, err))
		}
		return nil, false
	}
	if len(bytes.TrimSpace(data)) == 0 {
		writeText(w, http.StatusBadRequest, prefix+"the request body is empty, want a JSON object")
		return nil, false
	}
	v, err := pyjson.Decode(data)
	if err != nil {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("%sthe request body is not valid JSON: %v", prefix, err))
		return nil, false
	}
	return v, true
}

// POST /new_transaction: 201 "Success" once the transaction is on disk.
func (n *Node) handleNewTransaction(w http.ResponseWriter, r *http.Request) {
	v, ok := readJSON(w, r, n.cfg.Limits.TxBytes, "Invalid transaction data: ")
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
		writeText(w, http.StatusBadRequest, "Invalid transaction data: "+strings.TrimPrefix(err.Error(), "node: "))
	case errors.Is(err, ErrPoolFull):
		w.Header().Set("Retry-After", "1")
		writeText(w, http.StatusServiceUnavailable, err.Error())
	default:
		n.log.Error("storing a transaction failed", "err", err)
		writeText(w, http.StatusInternalServerError, err.Error())
	}
}

// GET /chain: the chain dump.
func (n *Node) handleChain(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, n.ChainJSON())
}

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
	var b strings.Builder
	b.WriteByte('[')
	for i, t := range txs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t)
	}
	b.WriteByte(']')
	writeJSON(w, http.StatusOK, []byte(b.String()))
}

// nodeAddress reads the {"node_address": URL} body of the registration
// endpoints.
func (n *Node) nodeAddress(w http.ResponseWriter, r *http.Request) (string, bool) {
	v, ok := readJSON(w, r, n.cfg.Limits.ControlBytes, "Invalid data: ")
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
		writeText(w, http.StatusBadRequest, "Invalid data: "+strings.TrimPrefix(err.Error(), "node: "))
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
	if _, err := n.AddPeers(u); err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, n.ChainJSON())
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
		writeText(w, http.StatusBadRequest, "Invalid data: "+strings.TrimPrefix(err.Error(), "node: "))
	case errors.As(err, &pe):
		n.log.Warn("registration failed", "peer", u, "err", err)
		writeText(w, pe.HTTPStatus(), "Registration failed: "+strings.TrimPrefix(err.Error(), "node: "))
	default:
		n.log.Error("registration failed", "peer", u, "err", err)
		writeText(w, http.StatusInternalServerError, err.Error())
	}
}

// POST /add_block: a block a peer announces.
func (n *Node) handleAddBlock(w http.ResponseWriter, r *http.Request) {
	const discarded = "The block was discarded by the node: "
	v, ok := readJSON(w, r, n.cfg.Limits.BlockBytes, discarded)
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
		writeText(w, http.StatusBadRequest, discarded+strings.TrimPrefix(strings.TrimPrefix(err.Error(), "engine: "), "node: "))
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
	Workers    int    `json:"workers"`
}

// Health returns the node's state in brief.
func (n *Node) Health() Health {
	n.mu.RLock()
	defer n.mu.RUnlock()
	last := n.chain[len(n.chain)-1]
	return Health{
		Status: "ok", Length: len(n.chain), Height: last.Index, LastHash: last.Hash,
		Pending: n.pool.len(), Peers: len(n.peerSet), Difficulty: n.target.String(),
		AutoMine: n.cfg.AutoMine, Hasher: n.miner.Hasher().Name(), Workers: n.miner.Workers(),
	}
}

// GET /health.
func (n *Node) handleHealth(w http.ResponseWriter, _ *http.Request) {
	body, _ := json.Marshal(n.Health())
	writeJSON(w, http.StatusOK, body)
}
