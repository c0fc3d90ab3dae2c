package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// DefaultRequestTimeout bounds a worker's wait for the coordinator's reply.
const DefaultRequestTimeout = 2 * time.Second

// localID is the worker ID of a coordinator's own in-process worker.
const localID = "local"

// WorkerOptions configures a Worker. Zero fields take their defaults.
type WorkerOptions struct {
	// Subject is the subject prefix of the fleet (DefaultSubject).
	Subject string
	// Name is how the coordinator lists this worker (default: the host
	// name). Its ID adds a random suffix, so names need not be unique.
	Name string
	// Miner mines the ranges (nil: engine.NewMiner(nil, 0)).
	Miner *engine.Miner
	// Logger receives one line per job and the coordinator's comings and
	// goings; nil discards them.
	Logger *slog.Logger
	// RequestTimeout bounds the wait for a reply (DefaultRequestTimeout).
	RequestTimeout time.Duration
}

// Worker mines the ranges a coordinator leases it, with its own engine
// miner, and answers each. Create it with NewWorker and call Run.
type Worker struct {
	opt   WorkerOptions
	id    string
	tr    transport
	sub   *nats.Subscription
	kick  chan struct{} // an announcement arrived (capacity 1)
	quit  chan struct{} // closed by close
	qOnce sync.Once

	mu           sync.Mutex // guards the fields below
	latest       *Job       // the last job announced
	gen          uint64     // announcements so far
	miningJob    string
	cancelMining context.CancelFunc
	rate         float64
	jobs         uint64
}

// transport carries a worker's requests to its coordinator.
type transport interface {
	ask(ctx context.Context, req *Request) (*Lease, error)
}

type natsTransport struct {
	nc      *nats.Conn
	subject string
	timeout time.Duration
}

func (t natsTransport) ask(ctx context.Context, req *Request) (*Lease, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	m, err := t.nc.RequestWithContext(ctx, t.subject, data)
	if err != nil {
		return nil, err
	}
	var l Lease
	if err := json.Unmarshal(m.Data, &l); err != nil {
		return nil, fmt.Errorf("coordinator's reply: %w", err)
	}
	return &l, nil
}

// localTransport is the in-process worker's: it calls the coordinator.
type localTransport struct{ c *Coordinator }

func (t localTransport) ask(_ context.Context, req *Request) (*Lease, error) {
	return t.c.serve(req, time.Now()), nil
}

// NewWorker subscribes to the fleet's job announcements on nc. Run mines.
func NewWorker(nc *nats.Conn, opt WorkerOptions) (*Worker, error) {
	if opt.Subject == "" {
		opt.Subject = DefaultSubject
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = DefaultRequestTimeout
	}
	w := newWorker(natsTransport{nc, workSubject(opt.Subject), opt.RequestTimeout}, opt)
	w.id = w.opt.Name + "-" + randomID()
	sub, err := nc.Subscribe(jobSubject(opt.Subject), func(m *nats.Msg) {
		var j Job
		if json.Unmarshal(m.Data, &j) == nil {
			w.notify(&j)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribing to %s: %w", jobSubject(opt.Subject), err)
	}
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("subscribing to %s: %w", jobSubject(opt.Subject), err)
	}
	w.sub = sub
	return w, nil
}

func newWorker(tr transport, opt WorkerOptions) *Worker {
	if opt.Name == "" {
		opt.Name, _ = os.Hostname()
	}
	if opt.Miner == nil {
		opt.Miner = engine.NewMiner(nil, 0)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{opt: opt, id: localID, tr: tr, kick: make(chan struct{}, 1), quit: make(chan struct{})}
}

// ID returns the worker's unique ID, as the coordinator lists it.
func (w *Worker) ID() string { return w.id }

// Miner returns the engine miner the worker mines with.
func (w *Worker) Miner() *engine.Miner { return w.opt.Miner }

// Jobs returns how many jobs the worker has taken part in.
func (w *Worker) Jobs() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.jobs
}

// notify records an announced job; a different job than the one being
// mined stops the mining at once (within one piece of nonces).
func (w *Worker) notify(j *Job) {
	w.mu.Lock()
	w.latest = j
	w.gen++
	if w.cancelMining != nil && w.miningJob != j.ID {
		w.cancelMining()
		w.cancelMining = nil
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *Worker) close() { w.qOnce.Do(func() { close(w.quit) }) }

// active is the job a worker is on.
type active struct {
	job    *Job
	tpl    *hasher.Template
	target hasher.Target
	start  time.Time
	ranges uint64
	hashes uint64
	found  bool
	nonce  uint64
}

type reply struct {
	l   *Lease
	err error
	gen uint64 // announcements seen when the request left
}

// Run mines until ctx is done, then hands back the ranges it holds and
// returns nil. It survives coordinator restarts and NATS reconnects: with
// no coordinator answering it asks again every second.
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	var (
		cur      *active
		queue    []*Lease
		answer   *Answer
		inflight chan reply
		retryAt  time.Time
		seenGen  uint64
		noCoord  bool
	)
	switchTo := func(j *Job) {
		w.endJob(cur)
		cur, queue, answer, retryAt = nil, nil, nil, time.Time{}
		if j == nil || j.ID == "" {
			return
		}
		tpl, target, err := j.template()
		if err != nil {
			w.opt.Logger.Warn("refusing a job", "err", err)
			retryAt = time.Now().Add(time.Second)
			return
		}
		cur = &active{job: j, tpl: tpl, target: target, start: time.Now()}
		w.mu.Lock()
		w.jobs++
		w.mu.Unlock()
	}
	take := func(r reply) {
		now := time.Now()
		if r.err != nil {
			if ctx.Err() != nil {
				return
			}
			if !noCoord {
				w.opt.Logger.Warn("no coordinator answers; asking again every second", "subject", w.opt.Subject, "err", r.err)
				noCoord = true
			}
			retryAt = now.Add(time.Second)
			return
		}
		if noCoord {
			w.opt.Logger.Info("a coordinator answers", "subject", w.opt.Subject)
			noCoord = false
		}
		l := r.l
		if l.Error != "" {
			w.opt.Logger.Warn("the coordinator refused a request", "err", l.Error)
			retryAt = now.Add(time.Second)
			return
		}
		if r.gen != seenGen {
			// A job was announced after the request left: the reply
			// says nothing about it, only its lease (of the job it
			// names) may still be of use.
			if !l.Idle && cur != nil && l.Job == cur.job.ID && l.Hi > l.Lo {
				queue = append(queue, l)
			}
			return
		}
		if l.NewJob != nil && (cur == nil || l.NewJob.ID != cur.job.ID) {
			switchTo(l.NewJob)
		} else if l.Job == "" && cur != nil {
			switchTo(nil)
		}
		if l.Idle {
			retryAt = now.Add(time.Duration(max(l.RetryMs, 10)) * time.Millisecond)
			return
		}
		if cur != nil && l.Job == cur.job.ID && l.Hi > l.Lo {
			queue = append(queue, l)
		}
	}
	var holding *Lease
	defer func() {
		w.endJob(cur)
		w.release(cur, answer, holding, queue, inflight)
	}()

	for {
		if ctx.Err() != nil {
			return nil
		}
		w.mu.Lock()
		g, latest := w.gen, w.latest
		w.mu.Unlock()
		if g != seenGen {
			seenGen = g
			if cur == nil || latest.ID != cur.job.ID {
				switchTo(latest)
			}
		}
		if inflight == nil && (answer != nil || len(queue) < 2) && !time.Now().Before(retryAt) {
			req := w.request(cur, answer)
			answer = nil
			inflight = make(chan reply, 1)
			go func(ch chan reply, gen uint64) {
				// Not ctx: a reply on its way when the worker stops
				// still tells release which lease to hand back.
				l, err := w.tr.ask(context.Background(), req)
				ch <- reply{l, err, gen}
			}(inflight, g)
		}
		if len(queue) == 0 {
			var timer *time.Timer
			var fire <-chan time.Time
			if inflight == nil {
				timer = time.NewTimer(max(time.Until(retryAt), 0))
				fire = timer.C
			}
			select {
			case r := <-inflight:
				inflight = nil
				take(r)
			case <-w.kick:
			case <-fire:
			case <-ctx.Done():
			}
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		holding, queue = queue[0], queue[1:]
		a, err := w.mine(ctx, cur, holding, seenGen)
		if err != nil { // stopped: ctx done or a new job
			if ctx.Err() == nil {
				holding = nil
			}
			continue
		}
		holding = nil
		answer = a
		if inflight != nil {
			select {
			case r := <-inflight:
				inflight = nil
				take(r)
			case <-ctx.Done():
			}
		}
	}
}

// request builds the next request, carrying answer.
func (w *Worker) request(cur *active, answer *Answer) *Request {
	w.mu.Lock()
	rate := w.rate
	w.mu.Unlock()
	req := &Request{
		Worker: w.id, Name: w.opt.Name, Kernel: w.opt.Miner.Hasher().Name(),
		Cores: w.opt.Miner.Workers(), Rate: rate, Answer: answer,
	}
	if cur != nil {
		req.Job = cur.job.ID
	}
	return req
}

// mine searches one leased range with the worker's miner. It fails only
// when ctx is done or a new job was announced.
func (w *Worker) mine(ctx context.Context, cur *active, l *Lease, gen uint64) (*Answer, error) {
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.mu.Lock()
	if w.gen != gen && w.latest.ID != cur.job.ID {
		w.mu.Unlock()
		return nil, engine.ErrCanceled
	}
	w.miningJob, w.cancelMining = cur.job.ID, cancel
	w.mu.Unlock()
	res, err := w.opt.Miner.MineRange(mctx, cur.tpl, cur.target, l.Lo, l.Hi)
	w.mu.Lock()
	w.cancelMining = nil
	if res.Elapsed > 0 && res.Hashes > 0 {
		r := float64(res.Hashes) / res.Elapsed.Seconds()
		if w.rate == 0 {
			w.rate = r
		} else {
			w.rate = 0.7*w.rate + 0.3*r
		}
	}
	w.mu.Unlock()
	cur.hashes += res.Hashes
	a := &Answer{Job: cur.job.ID, Lease: l.ID, Lo: l.Lo, Hi: l.Hi, Hashes: res.Hashes, Seconds: res.Elapsed.Seconds()}
	switch {
	case err == nil:
		a.Found, a.Nonce = true, res.Nonce
		if !cur.found || res.Nonce < cur.nonce {
			cur.found, cur.nonce = true, res.Nonce
		}
	case errors.Is(err, engine.ErrExhausted):
	default:
		return nil, err
	}
	cur.ranges++
	return a, nil
}

// endJob logs the one line of a job the worker took part in.
func (w *Worker) endJob(cur *active) {
	if cur == nil {
		return
	}
	el := time.Since(cur.start)
	args := []any{"job", cur.job.ID, "ranges", cur.ranges, "hashes", cur.hashes,
		"elapsed", el.Round(time.Millisecond), "hashes_per_s", fmt.Sprintf("%.4g", float64(cur.hashes)/el.Seconds())}
	if cur.found {
		args = append(args, "lowest_found", cur.nonce)
	}
	w.opt.Logger.Info("job done", args...)
}

// release hands back, unanswered, every lease the worker holds, so the
// coordinator can hand them out at once instead of waiting for them to
// expire, and delivers the answer of a range it finished but had not sent
// yet (it waits for the reply to the request in flight before it sends
// the next one). The lease in a reply still on its way is handed back
// too. It waits at most releaseWait for that reply and releaseWait for
// the hand-back: on a busy machine a reply can take hundreds of
// milliseconds, and a lease not handed back holds its range until the
// lease runs out.
func (w *Worker) release(cur *active, answer *Answer, holding *Lease, queue []*Lease, inflight chan reply) {
	if cur == nil {
		return
	}
	var ids []uint64
	if holding != nil {
		ids = append(ids, holding.ID)
	}
	for _, l := range queue {
		ids = append(ids, l.ID)
	}
	if inflight != nil {
		select {
		case r := <-inflight:
			if r.err == nil && !r.l.Idle && r.l.Job == cur.job.ID && r.l.ID != 0 {
				ids = append(ids, r.l.ID)
			}
		case <-time.After(releaseWait):
		}
	}
	if len(ids) == 0 && answer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseWait)
	defer cancel()
	req := w.request(cur, answer)
	req.Release, req.Stopping = ids, true
	if _, err := w.tr.ask(ctx, req); err != nil {
		w.opt.Logger.Warn("handing back ranges", "err", err)
	}
}

// releaseWait bounds each of the two waits of release.
const releaseWait = 2 * time.Second
