package fleet

import (
	"container/heap"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// Defaults of the Options fields left zero.
const (
	DefaultRangeTime = time.Second
	// DefaultInitialRange is a worker's range before its rate is known:
	// small enough that a slow worker on a big block answers well within
	// the lease (65,536 nonces of a 100-transaction block, 120
	// compressions each, take 2.4 s on the pure Go kernel and 0.3 s on
	// avx2), and a fast one has its rate measured after a few
	// milliseconds; it was 1 << 20, which took 4.7 s on avx2 there,
	// close to the 5 s lease.
	DefaultInitialRange = 1 << 16
	DefaultMinRange     = 1 << 12
	DefaultMaxRange     = 1 << 40
	DefaultLease        = 5 * time.Second
	// ConnectedWithin is how recently a worker must have been heard from
	// to count as connected.
	ConnectedWithin = 5 * time.Second
	// maxWorkers bounds the workers a coordinator tracks; a worker unheard
	// of for a minute is forgotten.
	maxWorkers = 1 << 17
	// maxHeld is how many leases one worker may hold at once.
	maxHeld = 4
)

// Options configures a Coordinator. Zero fields take their defaults.
type Options struct {
	// Subject is the subject prefix of the fleet (DefaultSubject).
	Subject string
	// RangeTime is how long a worker should spend on one range at its
	// measured rate (DefaultRangeTime).
	RangeTime time.Duration
	// InitialRange is the size of a range for a worker whose rate is not
	// known yet; MinRange and MaxRange bound every range.
	InitialRange, MinRange, MaxRange uint64
	// Lease is how long a worker has to answer a range before it is
	// handed out again (DefaultLease). It counts from when the range is
	// handed out, and a worker fetches its next range while it mines the
	// current one, so it must be well over twice RangeTime.
	Lease time.Duration
	// Local, when set, mines in this process too, as one more worker.
	Local *engine.Miner
	// Logger receives worker joins, refused answers and waits; nil
	// discards them.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	if o.RangeTime <= 0 {
		o.RangeTime = DefaultRangeTime
	}
	if o.InitialRange == 0 {
		o.InitialRange = DefaultInitialRange
	}
	if o.MinRange == 0 {
		o.MinRange = DefaultMinRange
	}
	if o.MaxRange == 0 {
		o.MaxRange = DefaultMaxRange
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stats are a coordinator's counters since it started.
type Stats struct {
	Issued   uint64 // ranges handed out, reissues included
	Reissued uint64 // ranges handed out again after a lease expired or was given back
	Answered uint64 // answers received, late ones included
	Hashes   uint64 // nonces hashed, by the answers
	Late     uint64 // answers for a lease that had expired or a job that had ended
	Refused  uint64 // solutions that did not re-hash to a valid proof of work
	Garbage  uint64 // messages that were not well-formed requests
}

// WorkerInfo describes one worker as the coordinator sees it.
type WorkerInfo struct {
	ID       string        // unique per worker process
	Name     string        // as the worker named itself
	Kernel   string        // its hashing kernel
	Cores    int           // its mining goroutines
	Rate     float64       // hashes per second, as it last measured
	LastSeen time.Time     // its last request
	Ranges   uint64        // ranges it answered
	Hashes   uint64        // nonces it hashed, by its answers
	Mining   time.Duration // time it spent mining, by its answers
	Refused  uint64        // its solutions that were refused
	Local    bool          // the coordinator's own in-process worker
}

// Coordinator hands out the ranges of one job at a time to the workers of
// a fleet and returns the lowest valid nonce. See the package doc.
// Its methods are safe for concurrent use; Mine calls are serialized.
type Coordinator struct {
	opt   Options
	nc    *nats.Conn
	sub   *nats.Subscription
	id    string
	local *Worker
	stop  chan struct{}
	wg    sync.WaitGroup

	mineMu sync.Mutex // one job at a time

	mu       sync.Mutex // guards the fields below
	job      *jobState
	last     *jobState // the job that ran last, for Progress
	seq      uint64
	leaseSeq uint64
	workers  map[string]*workerState
	stats    Stats
	closed   bool

	waiting atomic.Bool // a job waits for its first worker
}

type workerState struct {
	WorkerInfo
	held int // leases of the current job it holds
}

type rng struct{ lo, hi uint64 }

type lease struct {
	id      uint64
	r       rng
	worker  *workerState
	expires time.Time
}

// rangeHeap is a min-heap of ranges by start, the ranges to hand out again.
type rangeHeap []rng

func (h rangeHeap) Len() int           { return len(h) }
func (h rangeHeap) Less(i, j int) bool { return h[i].lo < h[j].lo }
func (h rangeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rangeHeap) Push(x any)        { *h = append(*h, x.(rng)) }
func (h *rangeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type jobState struct {
	wire   Job
	tpl    *hasher.Template
	target hasher.Target
	next   uint64 // the first nonce never handed out
	best   uint64 // lowest verified solution; MaxUint64: none
	open   map[uint64]*lease
	again  rangeHeap
	hashes uint64
	start  time.Time
	first  time.Time     // when the first range went out; zero before
	done   chan struct{} // closed when finished
	err    error         // ErrExhausted when finished without a solution
}

// NewCoordinator starts a coordinator on nc (nil: only opt.Local mines).
// Close stops it.
func NewCoordinator(nc *nats.Conn, opt Options) (*Coordinator, error) {
	opt.setDefaults()
	if opt.Lease < 2*opt.RangeTime {
		return nil, fmt.Errorf("lease %v must be at least twice the range time %v", opt.Lease, opt.RangeTime)
	}
	if opt.MinRange > opt.MaxRange {
		return nil, fmt.Errorf("min range %d is over max range %d", opt.MinRange, opt.MaxRange)
	}
	c := &Coordinator{opt: opt, nc: nc, id: randomID(), workers: map[string]*workerState{}, stop: make(chan struct{})}
	if nc != nil {
		sub, err := nc.Subscribe(workSubject(opt.Subject), c.handle)
		if err != nil {
			return nil, fmt.Errorf("subscribing to %s: %w", workSubject(opt.Subject), err)
		}
		// A coordinator under load must not drop requests: let them queue.
		sub.SetPendingLimits(1<<20, 256<<20)
		if err := nc.Flush(); err != nil {
			sub.Unsubscribe()
			return nil, fmt.Errorf("subscribing to %s: %w", workSubject(opt.Subject), err)
		}
		c.sub = sub
	}
	if opt.Local != nil {
		c.local = newWorker(localTransport{c}, WorkerOptions{Name: "local", Miner: opt.Local})
		c.wg.Go(func() { c.local.Run(context.Background()) })
	}
	c.wg.Go(c.expire)
	return c, nil
}

// Close stops the coordinator: a Mine in progress fails, the subscription
// ends and the local worker stops. It does not close the NATS connection.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.job != nil {
		c.finish(c.job, errors.New("coordinator closed"))
	}
	c.mu.Unlock()
	close(c.stop)
	if c.local != nil {
		c.local.close()
	}
	var err error
	if c.sub != nil {
		err = c.sub.Unsubscribe()
	}
	c.wg.Wait()
	return err
}

func randomID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Mine publishes t as a job to the fleet and returns the lowest nonce of t
// whose hash meets target, the one the seed's sequential loop finds. It
// returns when a solution n is known and every range below n is answered.
// Cancelling ctx ends the job on every worker and Mine returns an error
// wrapping engine.ErrCanceled. Result.Hashes counts the hashes the workers
// reported for this job, and Result.Elapsed the time from the first range
// handed out (not the wait for a worker before it) to the answer.
func (c *Coordinator) Mine(ctx context.Context, t *hasher.Template, target hasher.Target) (engine.Result, error) {
	return c.MineFrom(ctx, t, target, Progress{Best: math.MaxUint64})
}

// Progress is how far a job has come: every nonce from where it started
// below Frontier was answered "none" by the workers, and Best is the
// lowest verified solution so far (math.MaxUint64: none). Frontier is at
// most Best; when it reaches Best, Best is the answer.
type Progress struct {
	Frontier, Best uint64
}

// ErrBadResume is returned by MineFrom when the progress to resume from is
// inconsistent with the job: a Best that does not meet the target, or a
// Frontier above Best.
var ErrBadResume = errors.New("bad progress to resume from")

// MineFrom is Mine resuming a job from an earlier coordinator's progress
// (see Progress; a restarted coordinator reads it from a checkpoint): the
// ranges start at from.Frontier, and from.Best, when set, is re-hashed and
// counts as a solution found, so no range at or above it goes out. The
// answer is the lowest valid nonce at or above from.Frontier; it is the
// lowest of all when every nonce below from.Frontier has been answered
// "none" before.
func (c *Coordinator) MineFrom(ctx context.Context, t *hasher.Template, target hasher.Target, from Progress) (engine.Result, error) {
	c.mineMu.Lock()
	defer c.mineMu.Unlock()
	if n := len(t.Prefix()) + len(t.Suffix()); n > maxTemplate {
		return engine.Result{}, fmt.Errorf("a block template of %d bytes is over the fleet's limit of %d", n, maxTemplate)
	}
	if from.Best != math.MaxUint64 {
		if from.Frontier > from.Best {
			return engine.Result{}, fmt.Errorf("%w: frontier %d is above the best solution %d", ErrBadResume, from.Frontier, from.Best)
		}
		if !verifyNonce(t, target, from.Best) {
			return engine.Result{}, fmt.Errorf("%w: best nonce %d does not meet the target %v", ErrBadResume, from.Best, target)
		}
	}
	if c.nc != nil {
		// A job travels base64-encoded in a JSON message (a third more),
		// which the NATS server must accept.
		if n := (len(t.Prefix())+len(t.Suffix()))*4/3 + 1024; int64(n) > c.nc.MaxPayload() {
			return engine.Result{}, fmt.Errorf("a block template of %d bytes does not fit the NATS server's max_payload of %d bytes; raise it on the server",
				len(t.Prefix())+len(t.Suffix()), c.nc.MaxPayload())
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return engine.Result{}, errors.New("coordinator closed")
	}
	c.seq++
	j := &jobState{
		wire:   Job{ID: c.id + "-" + strconv.FormatUint(c.seq, 10), Prefix: t.Prefix(), Suffix: t.Suffix(), Bits: target.Bits()},
		tpl:    t,
		target: target,
		next:   from.Frontier,
		best:   from.Best,
		open:   map[uint64]*lease{},
		start:  time.Now(),
		done:   make(chan struct{}),
	}
	c.job, c.last = j, j
	c.checkLocked(j) // resumed at its best solution: done already
	for _, w := range c.workers {
		w.held = 0
	}
	connected := c.connectedLocked(time.Now())
	c.mu.Unlock()

	c.announce(&j.wire)
	if connected == 0 {
		c.waiting.Store(true)
		c.opt.Logger.Info("waiting for workers: none connected", "subject", c.opt.Subject)
	}
	var err error
	select {
	case <-j.done:
		err = j.err
	case <-ctx.Done():
		err = fmt.Errorf("%w: %w", engine.ErrCanceled, context.Cause(ctx))
	}
	c.waiting.Store(false)
	c.mu.Lock()
	if c.job == j {
		c.job = nil
	}
	since := j.start
	if !j.first.IsZero() {
		since = j.first
	}
	res := engine.Result{Hashes: j.hashes, Elapsed: time.Since(since)}
	select {
	case <-j.done:
		if j.err == nil && err == nil {
			res.Nonce = j.best
		}
	default:
	}
	c.mu.Unlock()
	c.announce(&Job{}) // stop every worker
	if err != nil {
		return res, err
	}
	msg := make([]byte, 0, len(t.Prefix())+hasher.MaxDigits+len(t.Suffix()))
	msg = strconv.AppendUint(append(msg, t.Prefix()...), res.Nonce, 10)
	res.Hash = sha256.Sum256(append(msg, t.Suffix()...))
	return res, nil
}

// announce tells every worker about a job (or, with an empty ID, that
// there is none).
func (c *Coordinator) announce(j *Job) {
	if c.local != nil {
		c.local.notify(j)
	}
	if c.nc == nil {
		return
	}
	data, err := json.Marshal(j)
	if err == nil {
		err = c.nc.Publish(jobSubject(c.opt.Subject), data)
	}
	if err == nil {
		err = c.nc.FlushTimeout(time.Second)
	}
	if err != nil {
		c.opt.Logger.Warn("announcing job", "job", j.ID, "err", err)
	}
}

// handle serves one message on P.work. NATS calls it from one goroutine.
func (c *Coordinator) handle(m *nats.Msg) {
	req, err := decodeRequest(m.Data)
	var l *Lease
	if err != nil {
		c.mu.Lock()
		c.stats.Garbage++
		c.mu.Unlock()
		l = &Lease{Error: err.Error()}
	} else {
		l = c.serve(req, time.Now())
	}
	if m.Reply == "" {
		return
	}
	data, err := json.Marshal(l)
	if err == nil {
		m.Respond(data)
	}
}

// serve answers one request: it records the answer and releases, then
// leases the worker its next range.
func (c *Coordinator) serve(req *Request, now time.Time) *Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.workers[req.Worker]
	if w == nil {
		if len(c.workers) >= maxWorkers {
			c.forgetLocked(now, ConnectedWithin)
			if len(c.workers) >= maxWorkers {
				return &Lease{Error: "too many workers"}
			}
		}
		w = &workerState{WorkerInfo: WorkerInfo{ID: req.Worker, Local: req.Worker == localID}}
		c.workers[req.Worker] = w
		c.opt.Logger.Info("worker joined", "worker", req.Name, "kernel", req.Kernel, "cores", req.Cores)
		if c.waiting.CompareAndSwap(true, false) {
			c.opt.Logger.Info("mining with the connected workers")
		}
	}
	w.Name, w.Kernel, w.Cores, w.LastSeen = req.Name, req.Kernel, req.Cores, now
	if req.Rate > 0 {
		w.Rate = req.Rate
	}
	j := c.job
	if req.Answer != nil {
		c.answerLocked(j, w, req.Answer)
	}
	if len(req.Release) > 0 || req.Stopping {
		for _, id := range req.Release {
			if l := j.lease(id); l != nil && l.worker == w {
				c.dropLocked(j, l, true)
			}
		}
		return &Lease{Idle: true}
	}
	if j == nil || c.closed {
		return &Lease{Idle: true, RetryMs: 1000}
	}
	out := &Lease{Job: j.wire.ID}
	if req.Job != j.wire.ID {
		out.NewJob = &j.wire
	}
	if w.held >= maxHeld {
		out.Idle, out.RetryMs = true, 100
		return out
	}
	r, ok := c.takeLocked(j, c.rangeSize(w))
	if !ok {
		out.Idle, out.RetryMs = true, 100
		return out
	}
	c.leaseSeq++
	l := &lease{id: c.leaseSeq, r: r, worker: w, expires: now.Add(c.opt.Lease)}
	j.open[l.id] = l
	if j.first.IsZero() {
		j.first = now
	}
	w.held++
	c.stats.Issued++
	out.ID, out.Lo, out.Hi, out.Expires = l.id, r.lo, r.hi, l.expires.UnixMilli()
	return out
}

func (j *jobState) lease(id uint64) *lease {
	if j == nil {
		return nil
	}
	return j.open[id]
}

// rangeSize is about RangeTime of w's work at its rate.
func (c *Coordinator) rangeSize(w *workerState) uint64 {
	n := c.opt.InitialRange
	if w.Rate > 0 {
		f := w.Rate * c.opt.RangeTime.Seconds()
		if f >= float64(c.opt.MaxRange) {
			n = c.opt.MaxRange
		} else {
			n = uint64(f)
		}
	}
	return min(max(n, c.opt.MinRange), c.opt.MaxRange)
}

// takeLocked picks the next range of j: the lowest range to hand out
// again, or else the next fresh one, never one at or above the best
// solution. Ranges therefore go out in increasing order.
func (c *Coordinator) takeLocked(j *jobState, size uint64) (rng, bool) {
	if len(j.again) > 0 && j.again[0].lo < j.best {
		r := heap.Pop(&j.again).(rng)
		c.stats.Reissued++
		return r, true
	}
	if j.next >= j.best || j.next == math.MaxUint64 {
		return rng{}, false
	}
	hi := j.next + size
	if hi < j.next || hi > math.MaxUint64 {
		hi = math.MaxUint64
	}
	r := rng{j.next, hi}
	j.next = hi
	return r, true
}

// answerLocked records a worker's answer for a range.
func (c *Coordinator) answerLocked(j *jobState, w *workerState, a *Answer) {
	c.stats.Answered++
	c.stats.Hashes += a.Hashes
	w.Hashes += a.Hashes
	w.Mining += time.Duration(a.Seconds * float64(time.Second))
	if j == nil || a.Job != j.wire.ID {
		c.stats.Late++
		return
	}
	j.hashes += a.Hashes
	l := j.open[a.Lease]
	if l != nil && (l.worker != w || l.r.lo != a.Lo || l.r.hi != a.Hi) {
		l = nil // not this worker's lease as it was given: worth nothing
	}
	if l == nil {
		c.stats.Late++
		if !a.Found && c.lateNoneLocked(j, a) {
			w.Ranges++
			c.checkLocked(j)
			return
		}
	}
	if a.Found {
		if !c.verify(j, a) {
			c.stats.Refused++
			w.Refused++
			c.opt.Logger.Warn("refused a wrong solution", "worker", w.Name, "id", w.ID, "nonce", a.Nonce, "lo", a.Lo, "hi", a.Hi)
			if l != nil {
				c.dropLocked(j, l, true)
			}
			return
		}
		if a.Nonce < j.best {
			j.best = a.Nonce
		}
	}
	if l != nil {
		w.Ranges++
		c.dropLocked(j, l, false)
	}
	c.checkLocked(j)
}

// lateNoneLocked takes a late "none" for a range that no answer has
// covered yet: a range waiting to go out again, or out again on another
// lease, with exactly the bounds answered (a range goes out again as it
// was). It is as good as an answer in time, and without it a range that
// takes longer than a lease on every worker that gets it (a loaded
// machine, a slow kernel) would go round for ever. It reports whether the
// answer was taken.
func (c *Coordinator) lateNoneLocked(j *jobState, a *Answer) bool {
	for i, r := range j.again {
		if r.lo == a.Lo && r.hi == a.Hi {
			heap.Remove(&j.again, i)
			return true
		}
	}
	for _, l := range j.open {
		if l.r.lo == a.Lo && l.r.hi == a.Hi {
			c.dropLocked(j, l, false) // its holder's answer will be late and change nothing
			return true
		}
	}
	return false
}

// verify re-hashes a claimed solution.
func (c *Coordinator) verify(j *jobState, a *Answer) bool {
	if a.Nonce < a.Lo || a.Nonce >= a.Hi {
		return false
	}
	return verifyNonce(j.tpl, j.target, a.Nonce)
}

// verifyNonce re-hashes nonce n of t (2^64-1 is never a solution).
func verifyNonce(t *hasher.Template, target hasher.Target, n uint64) bool {
	if n == math.MaxUint64 {
		return false
	}
	msg := make([]byte, 0, len(t.Prefix())+hasher.MaxDigits+len(t.Suffix()))
	msg = strconv.AppendUint(append(msg, t.Prefix()...), n, 10)
	d := sha256.Sum256(append(msg, t.Suffix()...))
	return target.MeetsDigest(&d)
}

// frontier is the lowest nonce of j not answered "none": the lowest range
// out or waiting to go out again, or the next fresh one, and at most the
// best solution.
func (j *jobState) frontier() uint64 {
	f := min(j.next, j.best)
	if len(j.again) > 0 {
		f = min(f, j.again[0].lo)
	}
	for _, l := range j.open {
		f = min(f, l.r.lo)
	}
	return f
}

// Progress returns how far the job in progress has come, or where the
// last job stopped when none is in progress (after a canceled Mine, where
// to resume it); ok is false before the first job. It walks the leases
// out, a few per worker, so call it every few seconds, not per range.
func (c *Coordinator) Progress() (p Progress, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return Progress{}, false
	}
	return Progress{Frontier: c.last.frontier(), Best: c.last.best}, true
}

// dropLocked ends a lease; with again its range is handed out again.
func (c *Coordinator) dropLocked(j *jobState, l *lease, again bool) {
	delete(j.open, l.id)
	if l.worker.held > 0 {
		l.worker.held--
	}
	if again && l.r.lo < j.best {
		heap.Push(&j.again, l.r)
	}
}

// checkLocked finishes j when its best solution is known to be the lowest:
// no range below it is out or waiting to go out again.
func (c *Coordinator) checkLocked(j *jobState) {
	select {
	case <-j.done:
		return
	default:
	}
	if len(j.again) > 0 && j.again[0].lo < j.best {
		return
	}
	for _, l := range j.open {
		if l.r.lo < j.best {
			return
		}
	}
	if j.best == math.MaxUint64 {
		if j.next < math.MaxUint64 {
			return
		}
		c.finish(j, engine.ErrExhausted)
		return
	}
	if j.next < j.best { // resumed with a best solution: the ranges below it are yet to go out
		return
	}
	c.finish(j, nil)
}

func (c *Coordinator) finish(j *jobState, err error) {
	select {
	case <-j.done:
	default:
		j.err = err
		close(j.done)
	}
}

// expire hands out again the ranges whose lease ran out, ten times a
// lease. It must be run as a goroutine; it stops with Close.
func (c *Coordinator) expire() {
	tick := time.NewTicker(max(c.opt.Lease/10, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-tick.C:
			c.mu.Lock()
			if j := c.job; j != nil {
				for _, l := range j.open {
					if now.After(l.expires) {
						c.dropLocked(j, l, true)
					}
				}
			}
			c.forgetLocked(now, time.Minute)
			c.mu.Unlock()
		}
	}
}

// forgetLocked forgets the workers unheard of for longer than d.
func (c *Coordinator) forgetLocked(now time.Time, d time.Duration) {
	for id, w := range c.workers {
		if now.Sub(w.LastSeen) > d && !w.Local {
			delete(c.workers, id)
		}
	}
}

func (c *Coordinator) connectedLocked(now time.Time) int {
	n := 0
	for _, w := range c.workers {
		if w.Local || now.Sub(w.LastSeen) <= ConnectedWithin {
			n++
		}
	}
	return n
}

// Stats returns the coordinator's counters.
func (c *Coordinator) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Workers returns the workers heard from in the last minute, by name.
// Connected ones are those seen within ConnectedWithin.
func (c *Coordinator) Workers() []WorkerInfo {
	c.mu.Lock()
	out := make([]WorkerInfo, 0, len(c.workers))
	for _, w := range c.workers {
		out = append(out, w.WorkerInfo)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Connected returns how many workers were heard from within
// ConnectedWithin (the local worker always counts).
func (c *Coordinator) Connected() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connectedLocked(time.Now())
}
