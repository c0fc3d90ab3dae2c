package bench

import (
	"context"
	"errors"
	"math"
	"runtime"
	"time"

	"github.com/powchain/powchain/engine"
)

// Plan is what Run would measure for a configuration and about how long
// it would take.
type Plan struct {
	Cells    int           // cells to measure, the references included
	Estimate time.Duration // expected length of the run, at most TimeLimit
	// Rates is the one-worker hash rate measured per kernel and block size
	// for the estimate, keyed by kernel name and transaction count.
	Rates map[string]map[int]float64
}

// calibrateTime is how long Estimate mines with each kernel and block size
// to learn its rate.
const calibrateTime = 25 * time.Millisecond

// Estimate returns the plan of cfg without running it: its cells and its
// expected duration. The duration comes from a quick calibration, each
// kernel mining each block size for a few milliseconds on one worker, with
// rates assumed to grow with the worker count up to the CPUs available:
// throughput cells take RateTime, a solve cell 16^difficulty hashes per
// block at that rate (at most CellLimit), the references RefTime. It is an
// estimate: on a busy machine the run takes longer.
func Estimate(ctx context.Context, cfg Config) (Plan, error) {
	if err := cfg.check(); err != nil {
		return Plan{}, err
	}
	if cfg.RefTime == 0 {
		cfg.RefTime = 2 * time.Second
	}
	r := &runner{cfg: cfg, rates: map[cellKey]float64{}}
	r.plan()
	plan := Plan{Cells: len(r.steps), Rates: map[string]map[int]float64{}}
	cpus := runtime.GOMAXPROCS(0)
	for _, h := range cfg.Hashers {
		plan.Rates[h.Name()] = map[int]float64{}
		m := engine.NewMiner(h, 1)
		for _, t := range cfg.Txs {
			tpl, err := template(cfg.Seed, t, 0, 0)
			if err != nil {
				return plan, err
			}
			cctx, cancel := context.WithTimeout(ctx, calibrateTime)
			res, err := m.Mine(cctx, tpl, never)
			cancel()
			if err != nil && !errors.Is(err, engine.ErrCanceled) {
				return plan, err
			}
			if ctx.Err() != nil {
				return plan, ctx.Err()
			}
			rate := float64(res.Hashes) / res.Elapsed.Seconds()
			plan.Rates[h.Name()][t] = rate
			for _, w := range cfg.Workers {
				r.rates[cellKey{hasher: h.Name(), workers: w, txs: t}] = rate * float64(min(w, cpus))
			}
		}
	}
	var secs float64
	for _, s := range r.steps {
		est := s.secs
		if s.phase == "solve" {
			est = r.solveEstimate(s.key)
		}
		if est > 0 && !math.IsInf(est, 0) {
			secs += est
		}
	}
	if cfg.TimeLimit > 0 {
		secs = min(secs, cfg.TimeLimit.Seconds())
	}
	plan.Estimate = time.Duration(secs * float64(time.Second))
	return plan, nil
}
