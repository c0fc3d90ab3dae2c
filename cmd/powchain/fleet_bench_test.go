package main

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/fleet"
	"github.com/powchain/powchain/hasher"
)

// BenchmarkFleetOverhead measures, in the same run and alternating, the
// hash rate of one machine's two cores mined two ways:
//
//   - local: the engine miner with 2 workers, what `powchain mine
//     --workers 2` runs;
//   - fleet: a coordinator with no local workers (what `powchain mine
//     --nats URL --workers 0` runs) on an embedded NATS server, and 2
//     `powchain worker --workers 1` processes.
//
// The target is never met, so both mine for a fixed window. The fleet's
// rate counts, per worker, the hashes of the ranges it answered between
// two answers divided by the time between them, so the gaps between
// ranges (the cost of the exchange) are in it. Each iteration measures
// both once; the metrics are the medians and their ratio, and the
// fraction of the time the workers spent outside the engine (waiting for
// a range, answering), which is the exchange's own cost and does not
// depend on what else the machine runs.
func BenchmarkFleetOverhead(b *testing.B) {
	bin := buildBin(b)
	url := embeddedNATS(b)
	c := testCoordinator(b, url, fleet.Options{})
	startWorkerProc(b, bin, url, "a")
	startWorkerProc(b, bin, url, "b")
	waitConnected(b, c, 2)
	r := fleetRows(b)[0]
	never, _ := hasher.TargetBits(200)
	m := engine.NewMiner(nil, 2)
	const window = 5 * time.Second
	var local, remote, idle []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), window)
		res, _ := m.Mine(ctx, r.tpl, never)
		cancel()
		local = append(local, float64(res.Hashes)/res.Elapsed.Seconds())

		ctx, cancel = context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Mine(ctx, r.tpl, never); close(done) }()
		time.Sleep(2 * time.Second) // ranges settle at their adapted size
		before := c.Workers()
		time.Sleep(window)
		after := c.Workers()
		cancel()
		<-done
		rate, mining, wall := 0.0, 0.0, 0.0
		for _, w0 := range before {
			for _, w1 := range after {
				if w0.ID == w1.ID && w1.LastSeen.After(w0.LastSeen) {
					el := w1.LastSeen.Sub(w0.LastSeen).Seconds()
					rate += float64(w1.Hashes-w0.Hashes) / el
					mining += (w1.Mining - w0.Mining).Seconds()
					wall += el
				}
			}
		}
		remote = append(remote, rate)
		idle = append(idle, 1-mining/wall)
	}
	b.StopTimer()
	lm, rm := median(local), median(remote)
	b.ReportMetric(lm, "local-H/s")
	b.ReportMetric(rm, "fleet-H/s")
	b.ReportMetric(rm/lm, "fleet/local")
	b.ReportMetric(median(idle), "worker-idle-fraction")
	b.Logf("local %.4g H/s, fleet %.4g H/s, ratio %.4f, workers idle %.4f of the time (samples local %v fleet %v idle %v)",
		lm, rm, rm/lm, median(idle), local, remote, idle)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
