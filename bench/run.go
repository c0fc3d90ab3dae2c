package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// ErrConfig is returned (wrapped) by Run when the configuration is
// invalid: an empty list, a count below one, a difficulty out of range.
var ErrConfig = errors.New("bench: invalid configuration")

// MaxDifficulty is the largest difficulty Run accepts. Difficulty 16
// already needs 2^64 hashes on average, more than the nonce space.
const MaxDifficulty = 15

// Config says what Run measures. The zero values of the optional fields
// mean: no throughput cells (RateTime), no limits (CellLimit, TimeLimit),
// no references (OpenSSL, Python).
type Config struct {
	// The matrix. Every solve cell is one difficulty, kernel, worker count
	// and block size; every throughput cell one kernel, worker count and
	// block size.
	Difficulties []int           // seed difficulties: hex zeros, 1 to MaxDifficulty
	Hashers      []hasher.Hasher // kernels, in the order to report them
	Workers      []int           // worker counts, each >= 1
	Txs          []int           // transactions per block, each >= 0

	// Blocks is the number of different blocks each solve cell mines.
	Blocks int
	// Seed selects the blocks: runs with the same seed mine the same
	// blocks, so they find the same nonces and try the same hashes.
	Seed int64

	// RateTime is the length of each throughput cell, split into
	// RateSamples samples (default 5) on different blocks. 0 measures no
	// throughput. A sample in which no worker got to hash (a loaded
	// machine) is taken again with twice the time.
	RateTime    time.Duration
	RateSamples int

	// CellLimit bounds each solve cell: when it runs out, the block being
	// mined is abandoned (counted as unfinished) and the cell ends.
	CellLimit time.Duration
	// TimeLimit bounds the whole run: when it runs out, the cell being
	// measured keeps what it has and the remaining cells are skipped.
	TimeLimit time.Duration

	// OpenSSL measures the openssl reference (when openssl is on the
	// PATH) and Python the seed's loop (when python3 is), each for about
	// RefTime (default 2s; whole seconds for openssl).
	OpenSSL bool
	Python  bool
	RefTime time.Duration

	// Version and Command describe the run in the report header.
	Version string
	Command string

	// Progress, when set, is called with the run's status every
	// ProgressEvery (default 500ms) from a goroutine of Run's own; calls
	// never overlap, and none is made after Run returns.
	Progress      func(Status)
	ProgressEvery time.Duration
}

// Status is a snapshot of a run, for progress displays.
type Status struct {
	Phase      string // "openssl", "python", "start-up", "throughput" or "solve"
	Step       int    // 1-based position of the current cell among all cells
	Steps      int
	Hasher     string
	Workers    int
	Txs        int
	Difficulty int // solve cells only
	Block      int // 1-based block (solve) or sample (throughput) in the cell
	Blocks     int
	Hashes     uint64        // hashed so far in the current block or sample
	Elapsed    time.Duration // since Run started
	// ETA is the estimated time left, from the throughput rates: the
	// expected hashes of every remaining block over its cell's rate.
	// It is negative when unknown.
	ETA time.Duration
}

func (c *Config) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case len(c.Hashers) == 0:
		return bad("no kernels")
	case len(c.Workers) == 0:
		return bad("no worker counts")
	case len(c.Txs) == 0:
		return bad("no block sizes")
	case len(c.Difficulties) == 0 && c.RateTime <= 0:
		return bad("nothing to measure: no difficulties and no throughput time")
	case c.Blocks < 1:
		return bad("blocks must be at least 1, got %d", c.Blocks)
	case c.RateTime < 0 || c.CellLimit < 0 || c.TimeLimit < 0 || c.RefTime < 0:
		return bad("durations must not be negative")
	}
	for _, d := range c.Difficulties {
		if d < 1 || d > MaxDifficulty {
			return bad("difficulty %d out of range [1, %d]", d, MaxDifficulty)
		}
	}
	for _, w := range c.Workers {
		if w < 1 {
			return bad("worker count %d is below 1", w)
		}
	}
	for _, t := range c.Txs {
		if t < 0 {
			return bad("transaction count %d is negative", t)
		}
	}
	for _, h := range c.Hashers {
		if h == nil {
			return bad("nil kernel")
		}
	}
	return nil
}

// startupRuns is how many Mine calls measure a cell's start-up cost,
// after startupWarmup that are not counted.
const (
	startupRuns   = 15
	startupWarmup = 5
)

// Run measures the configured matrix and returns its report. The report
// is never nil: when ctx is cancelled, Run stops within a piece of nonces
// and returns what it measured with ctx's error (the header says
// "interrupted"); when TimeLimit runs out it returns what it measured and
// no error (the header says "time limit").
//
// Run goes through its phases in this order: references, throughput,
// start-up cost, then the solve cells by increasing difficulty, so that a
// run cut short has the cheap cells of every kernel. Start-up is measured
// right before the solve cells, with the process in the state they see
// (heap grown, kernels used). Mining goroutines
// carry the pprof labels "bench" (the phase) and "difficulty" besides the
// engine's "worker" and "hasher".
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.RateSamples < 1 {
		cfg.RateSamples = 5
	}
	if cfg.RefTime == 0 {
		cfg.RefTime = 2 * time.Second
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 500 * time.Millisecond
	}
	r := &runner{cfg: cfg, start: time.Now(), rates: map[cellKey]float64{}, nonces: map[blockKey]nonceSeen{}}
	r.report = &Report{Header: newHeader(&cfg, r.start)}
	r.runCtx = ctx
	if cfg.TimeLimit > 0 {
		var cancel context.CancelFunc
		r.runCtx, cancel = context.WithTimeout(ctx, cfg.TimeLimit)
		defer cancel()
	}
	r.plan()

	stopProgress := r.startProgress()
	err := r.run(ctx)
	stopProgress()

	h := &r.report.Header
	h.Seconds = time.Since(r.start).Seconds()
	switch {
	case ctx.Err() != nil:
		h.Stopped = "interrupted"
		err = ctx.Err()
		if cause := context.Cause(ctx); cause != err {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
	case r.runCtx.Err() != nil:
		h.Stopped = "time limit"
		err = nil
	}
	r.report.derive()
	return r.report, err
}

type cellKey struct {
	hasher              string
	workers, txs, diffy int
}

type blockKey struct{ txs, difficulty, block int }

type nonceSeen struct {
	nonce uint64
	by    string
}

type runner struct {
	cfg    Config
	start  time.Time
	runCtx context.Context // ctx bounded by TimeLimit
	report *Report

	rates  map[cellKey]float64 // throughput median per cell (diffy 0)
	nonces map[blockKey]nonceSeen

	mu     sync.Mutex
	status Status
	miner  *engine.Miner // mining now, for the live hash count
	base   uint64        // miner.Hashes() when the current block started
	steps  []step
	cur    int // index in steps of the current cell
}

// step is one cell of the plan, for the ETA.
type step struct {
	phase string
	key   cellKey
	secs  float64 // estimated seconds; < 0 unknown
}

// plan lists every cell the run will measure, for the step count and ETA.
func (r *runner) plan() {
	c := &r.cfg
	if c.OpenSSL {
		r.steps = append(r.steps, step{phase: "openssl", secs: math.Ceil(c.RefTime.Seconds())})
	}
	if c.Python {
		for range c.Txs {
			r.steps = append(r.steps, step{phase: "python", secs: c.RefTime.Seconds()})
		}
	}
	if c.RateTime > 0 {
		r.eachCell(func(k cellKey) {
			r.steps = append(r.steps, step{phase: "throughput", key: k, secs: c.RateTime.Seconds()})
		})
	}
	r.eachCell(func(k cellKey) {
		r.steps = append(r.steps, step{phase: "start-up", key: k, secs: 0.01})
	})
	for _, d := range c.Difficulties {
		r.eachCell(func(k cellKey) {
			k.diffy = d
			r.steps = append(r.steps, step{phase: "solve", key: k, secs: -1})
		})
	}
}

// eachCell calls f for every block size, kernel and worker count, in
// report order.
func (r *runner) eachCell(f func(cellKey)) {
	for _, t := range r.cfg.Txs {
		for _, h := range r.cfg.Hashers {
			for _, w := range r.cfg.Workers {
				f(cellKey{hasher: h.Name(), workers: w, txs: t})
			}
		}
	}
}

// enter makes step i the current one.
func (r *runner) enter(i int, m *engine.Miner, blocks int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps[i]
	r.cur = i
	r.miner = m
	r.status = Status{
		Phase: s.phase, Step: i + 1, Steps: len(r.steps),
		Hasher: s.key.hasher, Workers: s.key.workers, Txs: s.key.txs, Difficulty: s.key.diffy,
		Blocks: blocks,
	}
	if m != nil {
		r.base = m.Hashes()
	}
}

// block notes the start of block (or sample) b of the current cell.
func (r *runner) block(b int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status.Block = b
	if r.miner != nil {
		r.base = r.miner.Hashes()
	}
}

// snapshot returns the current status with live counts and the ETA.
func (r *runner) snapshot() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.status
	s.Elapsed = time.Since(r.start)
	if r.miner != nil {
		s.Hashes = r.miner.Hashes() - r.base
	}
	var left float64
	for i := r.cur; i < len(r.steps); i++ {
		est := r.steps[i].secs
		if r.steps[i].phase == "solve" {
			est = r.solveEstimate(r.steps[i].key)
		}
		if est < 0 {
			left = -1
			break
		}
		left += est
	}
	if left >= 0 && r.cfg.TimeLimit > 0 {
		left = min(left, (r.cfg.TimeLimit - s.Elapsed).Seconds())
	}
	s.ETA = time.Duration(left * float64(time.Second))
	if left < 0 {
		s.ETA = -1
	}
	return s
}

// solveEstimate is the expected length of a solve cell from its
// throughput rate, or -1.
func (r *runner) solveEstimate(k cellKey) float64 {
	d := k.diffy
	k.diffy = 0
	rate, ok := r.rates[k]
	if !ok || rate <= 0 {
		return -1
	}
	est := float64(r.cfg.Blocks) * math.Pow(16, float64(d)) / rate
	if r.cfg.CellLimit > 0 {
		est = min(est, r.cfg.CellLimit.Seconds())
	}
	return est
}

func (r *runner) startProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(r.cfg.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				r.cfg.Progress(r.snapshot())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// stopped reports whether the run must end: interrupted or out of time.
func (r *runner) stopped() bool { return r.runCtx.Err() != nil }

func (r *runner) run(ctx context.Context) error {
	c := &r.cfg
	i := 0
	h := &r.report.Header
	if c.OpenSSL {
		r.enter(i, nil, 0)
		i++
		ref, err := MeasureOpenSSL(r.runCtx, int(math.Ceil(c.RefTime.Seconds())))
		if err != nil && !r.stopped() {
			h.Notes = append(h.Notes, "no openssl reference: "+err.Error())
		}
		h.OpenSSL = ref
	}
	if c.Python {
		for _, t := range c.Txs {
			if r.stopped() {
				return nil
			}
			r.enter(i, nil, 0)
			i++
			ref, err := MeasurePython(r.runCtx, Block(c.Seed, t, 0, 0), c.RefTime)
			if err != nil {
				if !r.stopped() {
					h.Notes = append(h.Notes, "no python baseline: "+err.Error())
				}
				continue
			}
			if !ref.Agrees {
				h.Notes = append(h.Notes, fmt.Sprintf("python and powchain hash the txs=%d block differently", t))
			}
			h.Python = append(h.Python, *ref)
		}
	}

	kernels := map[string]hasher.Hasher{}
	for _, k := range c.Hashers {
		kernels[k.Name()] = k
	}
	miners := map[cellKey]*engine.Miner{}
	miner := func(k cellKey) *engine.Miner {
		k.diffy = 0
		m := miners[k]
		if m == nil {
			m = engine.NewMiner(kernels[k.hasher], k.workers)
			miners[k] = m
		}
		return m
	}

	// cells measures the cells of phase, the steps from i on: each one
	// announced (enter, with the units of work its progress counts) and
	// measured by cell. It reports whether the run was stopped first.
	cells := func(phase string, units int, cell func(m *engine.Miner, k cellKey) error) (stopped bool, err error) {
		for ; i < len(r.steps) && r.steps[i].phase == phase; i++ {
			if r.stopped() {
				return true, nil
			}
			k := r.steps[i].key
			m := miner(k)
			r.enter(i, m, units)
			if err := cell(m, k); err != nil {
				return false, err
			}
		}
		return false, nil
	}

	stopped, err := cells("throughput", c.RateSamples, func(m *engine.Miner, k cellKey) error {
		rec, err := r.throughput(m, k)
		if rec != nil {
			r.report.Records = append(r.report.Records, *rec)
			r.mu.Lock()
			r.rates[k] = Median(rec.rates())
			r.mu.Unlock()
		}
		return err
	})
	if stopped || err != nil {
		return err
	}

	startup := map[cellKey]float64{}
	r.report.startup = startup
	stopped, err = cells("start-up", startupWarmup+startupRuns, func(m *engine.Miner, k cellKey) error {
		secs, err := r.measureStartup(m, k)
		if err != nil {
			return err
		}
		startup[k] = secs
		return nil
	})
	if stopped || err != nil {
		return err
	}

	_, err = cells("solve", c.Blocks, func(m *engine.Miner, k cellKey) error {
		rec, err := r.solve(m, k)
		if rec != nil {
			r.report.Records = append(r.report.Records, *rec)
		}
		return err
	})
	return err
}

// labels returns ctx with the bench's pprof labels, which the engine's
// workers add theirs to.
func labels(ctx context.Context, phase string, difficulty int) context.Context {
	l := pprof.Labels("bench", phase)
	if difficulty > 0 {
		l = pprof.Labels("bench", phase, "difficulty", strconv.Itoa(difficulty))
	}
	return pprof.WithLabels(ctx, l)
}

// template returns the template of a workload block.
func template(seed int64, txs, salt, i int) (*hasher.Template, error) {
	return Block(seed, txs, salt, i).Template()
}

// measureStartup returns the median wall time of a Mine call that
// succeeds at once (difficulty 0: nonce 0 meets it) on fresh templates:
// what every solve pays besides hashing, from starting the workers and
// preparing the layout to collecting them.
func (r *runner) measureStartup(m *engine.Miner, k cellKey) (float64, error) {
	zero, _ := hasher.TargetBits(0)
	ctx := labels(r.runCtx, "start-up", 0)
	var secs []float64
	// The first calls of a process or kernel are slower (cold caches,
	// goroutines and stacks not yet made); they are not counted.
	for n := range startupWarmup + startupRuns {
		r.block(n + 1)
		tpl, err := template(r.cfg.Seed, k.txs, -1, n)
		if err != nil {
			return 0, err
		}
		res, err := m.Mine(ctx, tpl, zero)
		if err != nil {
			if r.stopped() {
				break
			}
			return 0, err
		}
		if n >= startupWarmup {
			secs = append(secs, res.Elapsed.Seconds())
		}
	}
	return Median(secs), nil
}

// never is a target no digest meets in practice: 256 zero bits.
var never, _ = hasher.TargetBits(hasher.MaxBits)

// throughput measures cell k: RateSamples runs of Mine against a target
// that is never met, each stopped after RateTime/RateSamples, each on a
// different block. A run whose window closed before any worker hashed a
// nonce (on a loaded machine the workers may not get a CPU in time) is no
// sample: it is run again with twice the window until it hashes, unless
// the run is stopped.
func (r *runner) throughput(m *engine.Miner, k cellKey) (*Record, error) {
	c := &r.cfg
	rec := r.newRecord("throughput", k)
	each := c.RateTime / time.Duration(c.RateSamples)
	for n := range c.RateSamples {
		r.block(n + 1)
		tpl, err := template(c.Seed, k.txs, 0, n)
		if err != nil {
			return nil, err
		}
		var res engine.Result
		for window := max(each, time.Nanosecond); res.Hashes == 0 && !r.stopped(); window *= 2 {
			ctx, cancel := context.WithTimeout(r.runCtx, window)
			res, err = m.Mine(labels(ctx, "throughput", 0), tpl, never)
			cancel()
			if err != nil && !errors.Is(err, engine.ErrCanceled) {
				return nil, err
			}
		}
		rec.Blocks++
		if res.Hashes > 0 {
			rec.Samples = append(rec.Samples, Sample{
				Block: n, Hashes: res.Hashes, Seconds: res.Elapsed.Seconds(),
				Compressions: Compressions(tpl, res.Hashes),
			})
		}
		if r.stopped() {
			break
		}
	}
	if len(rec.Samples) == 0 {
		return nil, nil
	}
	return rec, nil
}

// solve measures cell k: Blocks different blocks mined to the cell's
// difficulty, within CellLimit.
func (r *runner) solve(m *engine.Miner, k cellKey) (*Record, error) {
	c := &r.cfg
	rec := r.newRecord("solve", k)
	target, err := hasher.TargetHexZeros(k.diffy)
	if err != nil {
		return nil, err
	}
	cellCtx := r.runCtx
	if c.CellLimit > 0 {
		var cancel context.CancelFunc
		cellCtx, cancel = context.WithTimeout(r.runCtx, c.CellLimit)
		defer cancel()
	}
	ctx := labels(cellCtx, "solve", k.diffy)
	for n := range c.Blocks {
		r.block(n + 1)
		tpl, err := template(c.Seed, k.txs, k.diffy, n)
		if err != nil {
			return nil, err
		}
		res, err := m.Mine(ctx, tpl, target)
		s := Sample{Block: n, Hashes: res.Hashes, Seconds: res.Elapsed.Seconds(), Compressions: Compressions(tpl, res.Hashes)}
		rec.Blocks++
		switch {
		case err == nil:
			nonce := res.Nonce
			s.Nonce = &nonce
			r.checkNonce(k, n, nonce)
		case errors.Is(err, engine.ErrCanceled):
			s.Unfinished = true
		default:
			return nil, err
		}
		rec.Samples = append(rec.Samples, s)
		if s.Unfinished {
			break
		}
	}
	return rec, nil
}

// checkNonce notes in the header when two kernels or worker counts find
// different nonces for the same block: the engine promises the lowest.
func (r *runner) checkNonce(k cellKey, block int, nonce uint64) {
	bk := blockKey{txs: k.txs, difficulty: k.diffy, block: block}
	by := fmt.Sprintf("%s with %d workers", k.hasher, k.workers)
	seen, ok := r.nonces[bk]
	if !ok {
		r.nonces[bk] = nonceSeen{nonce: nonce, by: by}
		return
	}
	if seen.nonce != nonce {
		h := &r.report.Header
		h.Notes = append(h.Notes, fmt.Sprintf("NONCE MISMATCH at difficulty %d, txs %d, block %d: %s found %d, %s found %d",
			k.diffy, k.txs, block, seen.by, seen.nonce, by, nonce))
	}
}

func (r *runner) newRecord(mode string, k cellKey) *Record {
	rec := &Record{Mode: mode, Hasher: k.hasher, Workers: k.workers, Txs: k.txs, Difficulty: k.diffy}
	if b, err := Block(r.cfg.Seed, k.txs, k.diffy, 0).Canonical(); err == nil {
		// The message with a 7-digit nonce, as the block sizes are quoted.
		rec.MessageBytes = len(b) - 1 + 7
	}
	return rec
}

// osRelease returns the operating system kernel's release where the
// system says it (Linux: /proc/sys/kernel/osrelease), else "".
func osRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// newHeader describes the machine and the configuration.
func newHeader(c *Config, start time.Time) Header {
	h := Header{
		Tool:       "powchain bench",
		Version:    c.Version,
		Command:    c.Command,
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		OSRelease:  osRelease(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPU:        hasher.Info(),
		Assembly:   hasher.HaveAsm,
		Start:      start.UTC().Truncate(time.Second),
		Config: ConfigInfo{
			Difficulties: slices.Clone(c.Difficulties),
			Workers:      slices.Clone(c.Workers),
			Txs:          slices.Clone(c.Txs),
			Blocks:       c.Blocks,
			Seed:         c.Seed,
			RateTime:     c.RateTime.Seconds(),
			RateSamples:  c.RateSamples,
			CellLimit:    c.CellLimit.Seconds(),
			TimeLimit:    c.TimeLimit.Seconds(),
		},
		Modes: modes,
	}
	for _, k := range c.Hashers {
		h.Config.Hashers = append(h.Config.Hashers, k.Name())
	}
	for _, k := range hasher.Available() {
		h.Kernels = append(h.Kernels, k.Name())
	}
	return h
}
