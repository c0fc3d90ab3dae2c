package node

import (
	"net/http"

	"github.com/powchain/powchain/node/ui"
)

// handleDashboard adds the live stream (GET /events) and, with Config.UI,
// the dashboard (GET / and GET /ui/...) to the API's mux.
func (n *Node) handleDashboard(mux *http.ServeMux) {
	mux.HandleFunc("GET /events", n.handleEvents)
	if n.cfg.UI {
		h := ui.Handler()
		mux.Handle("GET /{$}", h)
		mux.Handle("GET /ui/", h)
	}
}
