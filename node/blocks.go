package node

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/powchain/powchain/engine/pyjson"
)

// Paging limits of GET /blocks and GET /headers.
const (
	// DefaultPageBlocks and MaxPageBlocks are the default and the largest
	// limit of GET /blocks.
	DefaultPageBlocks = 100
	MaxPageBlocks     = 1000
	// MaxPageBytes bounds the blocks of one GET /blocks answer: past the
	// first block, a page ends before the block that would take it over.
	MaxPageBytes = 4 << 20
	// DefaultPageHashes and MaxPageHashes are the default and the largest
	// limit of GET /headers.
	DefaultPageHashes = 1000
	MaxPageHashes     = 10000
)

// pageParams reads from and limit of a paged request: from an integer >= 0
// (default 0), limit an integer >= 1 (default def), capped at max. On a
// bad value it has answered 400 naming the parameter.
func pageParams(w http.ResponseWriter, r *http.Request, def, max int) (from, limit int, ok bool) {
	q := r.URL.Query()
	from, limit = 0, def
	if v := q.Get("from"); v != "" {
		f, err := strconv.Atoi(v)
		if err != nil || f < 0 {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("Invalid parameter: from: %q is not a height (an integer >= 0)", v))
			return 0, 0, false
		}
		from = f
	}
	if v := q.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("Invalid parameter: limit: %q is not a count (an integer >= 1)", v))
			return 0, 0, false
		}
		limit = min(l, max)
	}
	return from, limit, true
}

// GET /blocks?from=H&limit=N: {"length": L, "blocks": [...]}, the blocks
// from height H on as GET /chain lists them, at most N (default 100,
// capped at 1000) and at most MaxPageBytes past the first; none when H is
// at or past the length L.
func (n *Node) handleBlocks(w http.ResponseWriter, r *http.Request) {
	from, limit, ok := pageParams(w, r, DefaultPageBlocks, MaxPageBlocks)
	if !ok {
		return
	}
	tx, _, err := n.view()
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer tx.Rollback()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	aw := n.answerWriter(w)
	if err := n.store.writePage(tx, aw, from, limit, MaxPageBytes); err != nil {
		n.log.Debug("streaming a page of blocks stopped", "err", err)
	} else {
		aw.done()
	}
}

// GET /headers?from=H&limit=N: {"length": L, "hashes": [...]}, the hashes
// of the blocks from height H on, at most N (default 1000, capped at
// 10000), from the node's index in memory. A peer finds the common
// ancestor of its chain and ours with it.
func (n *Node) handleHeaders(w http.ResponseWriter, r *http.Request) {
	from, limit, ok := pageParams(w, r, DefaultPageHashes, MaxPageHashes)
	if !ok {
		return
	}
	n.mu.RLock()
	idx := n.index
	n.mu.RUnlock()
	from = min(from, idx.len())
	end := min(idx.len(), from+limit)
	out := make([]byte, 0, 64+max(0, end-from)*68)
	out = append(out, `{"length": `...)
	out = strconv.AppendInt(out, int64(idx.len()), 10)
	out = append(out, `, "hashes": [`...)
	for h := from; h < end; h++ {
		if h > from {
			out = append(out, ", "...)
		}
		out = append(out, '"')
		out = appendHex(out, idx.at(h))
		out = append(out, '"')
	}
	out = append(out, "]}"...)
	writeJSON(w, http.StatusOK, out)
}

// pagedRegistration is the answer of POST /register_node?paged=1, which a
// powchain node sends: the chain's length and the peers, without the
// chain, which the caller fetches with GET /blocks.
func pagedRegistration(length int, peers []string) []byte {
	out := []byte(`{"length": ` + strconv.Itoa(length) + `, "peers": [`)
	for i, p := range peers {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = pyjson.AppendString(out, p)
	}
	return append(out, "]}"...)
}

func appendHex(dst []byte, h [32]byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range h {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}
