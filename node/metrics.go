package node

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus metrics, in a registry of its own so
// that several nodes can live in one process.
type metrics struct {
	reg          *prometheus.Registry
	txs          prometheus.Counter
	mined        prometheus.Counter
	accepted     prometheus.Counter
	replacements prometheus.Counter
	rejected     *prometheus.CounterVec
	syncBlocks   prometheus.Counter
	syncPages    prometheus.Counter
	syncRetries  prometheus.Counter
	syncTarget   prometheus.Gauge
	rateLimited  prometheus.Counter
	rate         atomic.Uint64 // float64 bits: hashes per second, see sampleRate
}

func newMetrics(n *Node) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.txs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_transactions_total", Help: "Transactions acknowledged (stored durably) by POST /new_transaction.",
	})
	m.mined = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_blocks_mined_total", Help: "Blocks this node mined and appended.",
	})
	m.accepted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_blocks_accepted_total", Help: "Blocks announced by peers and appended.",
	})
	m.replacements = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_chain_replacements_total", Help: "Times a longer valid chain replaced ours.",
	})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "powchain_blocks_rejected_total", Help: "Blocks or chains from peers refused, by the rule they broke.",
	}, []string{"rule"})
	m.syncBlocks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_sync_blocks_total", Help: "Blocks fetched from peers in pages (GET /blocks) and validated.",
	})
	m.syncPages = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_sync_pages_total", Help: "Pages of blocks fetched from peers.",
	})
	m.syncRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_sync_retries_total", Help: "Requests to peers tried again during a sync.",
	})
	m.syncTarget = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "powchain_sync_target_height", Help: "Height of the peer's last block while a paged sync runs, 0 otherwise.",
	})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "powchain_rate_limited_total", Help: "Requests answered 429 because their client was over its rate (Config.RateLimit).",
	})
	m.reg.MustRegister(m.txs, m.mined, m.accepted, m.replacements, m.rejected,
		m.syncBlocks, m.syncPages, m.syncRetries, m.syncTarget, m.rateLimited,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "powchain_connections_open", Help: "Connections to the API open now (Limits.Conns caps them).",
		}, func() float64 { return float64(n.conns.openConns()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "powchain_connections_refused_total", Help: "Connections refused (answered 503 and closed) by the cap they were over: total (Limits.Conns) or per_client (Limits.ConnsPerClient).",
			ConstLabels: prometheus.Labels{"cap": "total"},
		}, func() float64 { return float64(n.conns.refusedTotal.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "powchain_connections_refused_total", Help: "Connections refused (answered 503 and closed) by the cap they were over: total (Limits.Conns) or per_client (Limits.ConnsPerClient).",
			ConstLabels: prometheus.Labels{"cap": "per_client"},
		}, func() float64 { return float64(n.conns.refusedClient.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "powchain_proxied_requests_refused_total", Help: "Requests through a trusted proxy answered 503 because their client had Limits.ConnsPerClient requests in flight.",
		}, func() float64 { return float64(n.conns.refusedProxied.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "powchain_connections_evicted_total", Help: "Idle keep-alive connections closed to make room for a new connection over a cap: total (Limits.Conns) or per_client (Limits.ConnsPerClient).",
			ConstLabels: prometheus.Labels{"cap": "total"},
		}, func() float64 { return float64(n.conns.evictedTotal.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "powchain_connections_evicted_total", Help: "Idle keep-alive connections closed to make room for a new connection over a cap: total (Limits.Conns) or per_client (Limits.ConnsPerClient).",
			ConstLabels: prometheus.Labels{"cap": "per_client"},
		}, func() float64 { return float64(n.conns.evictedClient.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "powchain_hashes_total", Help: "Nonces hashed by this node's miner, or with a fleet by its workers (as their answers count them).",
		}, func() float64 { return float64(n.hashes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "powchain_hash_rate", Help: "Hashes per second over the last 10 seconds.",
		}, func() float64 { return math.Float64frombits(m.rate.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "powchain_chain_height", Help: "Index of the last block.",
		}, func() float64 { return float64(n.Len() - 1) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "powchain_pending_transactions", Help: "Transactions waiting to be mined.",
		}, func() float64 {
			n.mu.RLock()
			defer n.mu.RUnlock()
			return float64(n.pool.len())
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "powchain_peers", Help: "Known peers.",
		}, func() float64 {
			n.mu.RLock()
			defer n.mu.RUnlock()
			return float64(len(n.peerSet))
		}),
		workerCollector{n},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// sampleRate updates the hash-rate gauge once a second from the node's
// hash counter (its miner's, or with a fleet the workers' answers), over a
// window of ten seconds, until ctx is done. It must
// be run as a goroutine.
func (n *Node) sampleRate(ctx context.Context) {
	type sample struct {
		at     time.Time
		hashes uint64
	}
	const window = 10
	ring := []sample{{time.Now(), n.hashes()}}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-tick.C:
			ring = append(ring, sample{t, n.hashes()})
			if len(ring) > window+1 {
				ring = ring[1:]
			}
			first, last := ring[0], ring[len(ring)-1]
			rate := 0.0
			if dt := last.at.Sub(first.at).Seconds(); dt > 0 {
				rate = float64(last.hashes-first.hashes) / dt
			}
			n.metrics.rate.Store(math.Float64bits(rate))
		}
	}
}
