package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/fleet"
)

func init() {
	register(&command{
		name:    "worker",
		summary: "mine for the coordinator (mine or serve with --nats) on a NATS server, until SIGINT/SIGTERM (then exit 0)",
		examples: []string{
			"powchain worker --nats nats://coordinator:4222 --name lab-3   # on each machine that mines",
			"powchain worker --nats tls://coordinator:4222 --nats-ca ca.pem --nats-creds worker.creds",
			"powchain worker --nats nats://127.0.0.1:4222 --workers 1 --hasher shani1",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			o := &workerOptions{}
			o.miner.register(fs)
			o.nats.register(fs, false)
			o.profile.register(fs)
			fs.StringVar(&o.name, "name", "", "this worker's name in the coordinator's list (default: the host name)")
			fs.StringVar(&o.progress, "progress", "auto", "status line on stderr: auto (when stderr is a terminal), always or never")
			return func(ctx context.Context, e env, args []string) error { return runWorker(ctx, e, o, args) }
		},
	})
}

type workerOptions struct {
	miner    minerFlags
	nats     natsFlags
	profile  profileFlags
	name     string
	progress string
}

// errConnClosed is the cause of a worker's stop when NATS closes its
// connection for good (it never does while it can reconnect).
var errConnClosed = errors.New("the NATS connection was closed")

// runWorker mines the ranges a fleet coordinator hands out until ctx is
// cancelled, then hands back the ranges it holds and returns nil. It logs
// one line per job on stderr.
func runWorker(ctx context.Context, e env, o *workerOptions, args []string) (err error) {
	if len(args) > 0 {
		return usagef("worker takes no arguments, got %q", args)
	}
	if o.nats.urls == "" {
		return usagef("--nats is required: the NATS server(s) the coordinator uses")
	}
	m, err := o.miner.miner()
	if err != nil {
		return err
	}
	spareProc(m)
	live, err := wantProgress(o.progress, e.stderr)
	if err != nil {
		return err
	}
	log := plainLogger(e.stderr)
	name := o.name
	nc, closeNC, err := o.nats.connect(ctx, "powchain worker "+name, log)
	if err != nil {
		return err
	}
	defer closeNC()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	nc.SetClosedHandler(func(*nats.Conn) { cancel(errConnClosed) })

	stop, err := o.profile.start()
	if err != nil {
		return err
	}
	defer stopProfiles(stop, &err)

	w, err := fleet.NewWorker(nc, fleet.WorkerOptions{Subject: o.nats.subject, Name: name, Miner: m, Logger: log})
	if err != nil {
		return err
	}
	log.Info("worker started", "id", w.ID(), "kernel", m.Hasher().Name(), "cores", m.Workers(), "nats", nc.ConnectedUrlRedacted())
	done := make(chan struct{})
	if live {
		go workerStatus(e.stderr, m, w, done)
	}
	w.Run(ctx)
	close(done)
	if errors.Is(context.Cause(ctx), errConnClosed) {
		return errConnClosed
	}
	return nil
}

// spareProc leaves one P beyond the mining goroutines, so that NATS
// deliveries (a new job, a reply) do not wait for the scheduler to preempt
// a mining goroutine (up to 10 ms a hop). The extra P mostly sleeps.
func spareProc(m *engine.Miner) {
	if m != nil && runtime.GOMAXPROCS(0) <= m.Workers() {
		runtime.GOMAXPROCS(m.Workers() + 1)
	}
}

// workerStatus redraws a one-line status on w twice a second until done
// is closed. It must be run as a goroutine.
func workerStatus(out io.Writer, m *engine.Miner, w *fleet.Worker, done <-chan struct{}) {
	start, base := time.Now(), m.Hashes()
	last, lastAt := base, start
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			fmt.Fprint(out, "\r\033[K")
			return
		case now := <-tick.C:
			h := m.Hashes()
			r := float64(h-last) / now.Sub(lastAt).Seconds()
			last, lastAt = h, now
			fmt.Fprintf(out, "\r\033[Kworker: %d jobs, %.3g hashes, %s, up %v", w.Jobs(), float64(h-base), rate(r), now.Sub(start).Round(time.Second))
		}
	}
}
