package node

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/powchain/powchain/engine"
)

// Fleet is mining power beyond this process: a coordinator of remote
// workers (package fleet, wired in by cmd/powchain). With Config.Fleet
// set the node mines every block through it, GET /workers lists its
// workers and /metrics carries its counters.
type Fleet interface {
	engine.Solver
	// FleetWorkers lists the workers heard from recently.
	FleetWorkers() []WorkerInfo
	// FleetStats returns the fleet's counters.
	FleetStats() FleetStats
}

// WorkerInfo is one mining worker as GET /workers lists it.
type WorkerInfo struct {
	Name     string    `json:"name"`      // as the worker named itself
	Kernel   string    `json:"kernel"`    // its hashing kernel
	Cores    int       `json:"cores"`     // its mining goroutines
	Rate     float64   `json:"rate"`      // hashes per second
	LastSeen time.Time `json:"last_seen"` // RFC 3339, when it was last heard from
}

// FleetStats are a fleet's counters.
type FleetStats struct {
	Connected int    // workers heard from within the last few seconds
	Issued    uint64 // ranges handed out, reissues included
	Reissued  uint64 // ranges handed out again after a lease expired or was given back
	Answered  uint64 // answers received
	Refused   uint64 // solutions refused: they did not re-hash to a valid proof of work
	Hashes    uint64 // nonces hashed, as the workers' answers count them
}

// solver is what mines the node's blocks: the fleet when there is one.
func (n *Node) solver() engine.Solver {
	if n.cfg.Fleet != nil {
		return n.cfg.Fleet
	}
	return n.miner
}

// Workers lists the node's mining workers: the fleet's, or without one
// the node's own miner as a single worker.
func (n *Node) Workers() []WorkerInfo {
	if n.cfg.Fleet != nil {
		return n.cfg.Fleet.FleetWorkers()
	}
	return []WorkerInfo{{
		Name:     "local",
		Kernel:   n.miner.Hasher().Name(),
		Cores:    n.miner.Workers(),
		Rate:     n.metrics.hashRate(),
		LastSeen: time.Now().UTC(),
	}}
}

func (n *Node) handleWorkers(w http.ResponseWriter, _ *http.Request) {
	body, _ := json.Marshal(n.Workers())
	writeJSON(w, http.StatusOK, body)
}

// workerCollector exports the fleet's workers and counters to /metrics.
type workerCollector struct{ n *Node }

var (
	descConnected = prometheus.NewDesc("powchain_fleet_workers_connected",
		"Mining workers connected (heard from within the last few seconds).", nil, nil)
	descWorkerRate = prometheus.NewDesc("powchain_fleet_worker_hash_rate",
		"Each worker's hashes per second, as it last measured.", []string{"worker"}, nil)
	descIssued = prometheus.NewDesc("powchain_fleet_ranges_issued_total",
		"Nonce ranges handed out to workers, reissues included.", nil, nil)
	descReissued = prometheus.NewDesc("powchain_fleet_ranges_reissued_total",
		"Nonce ranges handed out again after a lease expired or was given back.", nil, nil)
	descAnswered = prometheus.NewDesc("powchain_fleet_ranges_answered_total",
		"Answers to nonce ranges received from workers.", nil, nil)
	descRefused = prometheus.NewDesc("powchain_fleet_solutions_refused_total",
		"Solutions from workers refused because they did not re-hash to a valid proof of work.", nil, nil)
)

func (c workerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnected, descWorkerRate, descIssued, descReissued, descAnswered, descRefused} {
		ch <- d
	}
}

func (c workerCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.n.cfg.Fleet
	if f == nil {
		return
	}
	st := f.FleetStats()
	ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, float64(st.Connected))
	ch <- prometheus.MustNewConstMetric(descIssued, prometheus.CounterValue, float64(st.Issued))
	ch <- prometheus.MustNewConstMetric(descReissued, prometheus.CounterValue, float64(st.Reissued))
	ch <- prometheus.MustNewConstMetric(descAnswered, prometheus.CounterValue, float64(st.Answered))
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(st.Refused))
	seen := map[string]int{}
	for _, w := range f.FleetWorkers() {
		name := w.Name
		if seen[name]++; seen[name] > 1 { // two workers of one name: keep both series
			name = name + "#" + strconv.Itoa(seen[name])
		}
		ch <- prometheus.MustNewConstMetric(descWorkerRate, prometheus.GaugeValue, w.Rate, name)
	}
}

// fleetRate is the hash rate of the node's fleet, the sum of what its
// workers (the local one included) last reported, and whether the node
// mines through a fleet at all. Without one, the rate is sampled from the
// node's own miner. A worker keeps the rate it last measured while it
// idles, so the rate counts only while the node mines: 0 otherwise, as
// the node's own miner's would be.
func (n *Node) fleetRate() (float64, bool) {
	if n.cfg.Fleet == nil {
		return 0, false
	}
	if !n.mining() {
		return 0, true
	}
	rate := 0.0
	for _, w := range n.cfg.Fleet.FleetWorkers() {
		rate += w.Rate
	}
	return rate, true
}

// hashes is the number of nonces the node has hashed: by its own miner,
// or with a fleet by the fleet's workers, its own included.
func (n *Node) hashes() uint64 {
	if n.cfg.Fleet != nil {
		return n.cfg.Fleet.FleetStats().Hashes
	}
	return n.miner.Hashes()
}

// hashRate is the last sampled hash rate of the node's own miner.
func (m *metrics) hashRate() float64 { return math.Float64frombits(m.rate.Load()) }
