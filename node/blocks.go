package node

import (
	"fmt"
	"net/http"
	"strconv"
)

// MaxBlocksPage is the most blocks one GET /blocks answer holds.
const MaxBlocksPage = 1000

// GET /blocks?from=H&limit=N: {"length": L, "blocks": [...]}, the blocks
// from height H on, ascending, at most N of them (default 100, at most
// MaxBlocksPage), each in its wire form as in /chain. A from beyond the
// tip gives an empty list.
func (n *Node) handleBlocks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, limit := int64(0), int64(100)
	if s := q.Get("from"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("Invalid query: \"from\": want a block height of 0 or more, got %q", s))
			return
		}
		from = v
	}
	if s := q.Get("limit"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 1 || v > MaxBlocksPage {
			writeText(w, http.StatusBadRequest, fmt.Sprintf("Invalid query: \"limit\": want 1 to %d, got %q", MaxBlocksPage, s))
			return
		}
		limit = v
	}
	n.mu.RLock()
	ch := n.chain
	n.mu.RUnlock()
	var page []*block
	if from < int64(len(ch)) {
		page = ch[from:min(int64(len(ch)), from+limit)]
	}
	out := fmt.Appendf(nil, `{"length": %d, "blocks": [`, len(ch))
	for i, b := range page {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = append(out, b.wire...)
	}
	writeJSON(w, http.StatusOK, append(out, "]}"...))
}
