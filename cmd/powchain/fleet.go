package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/fleet"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/node"
)

// natsFlags declares how a command reaches a mining fleet over NATS.
type natsFlags struct {
	urls, listen, creds, ca, subject string
	rangeTime, lease                 time.Duration
}

func (f *natsFlags) register(fs *flag.FlagSet, coordinator bool) {
	fs.StringVar(&f.urls, "nats", "", "NATS server URLs, comma-separated (nats:// or tls://, user:password@ or token@ for credentials)")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (JWT and NKey seed)")
	fs.StringVar(&f.ca, "nats-ca", "", "PEM file of CAs to trust for tls:// NATS URLs, besides the system's")
	fs.StringVar(&f.subject, "nats-subject", fleet.DefaultSubject, "subject prefix of the fleet: one coordinator per prefix")
	if coordinator {
		fs.StringVar(&f.listen, "nats-listen", "", "start a NATS server in this process on [user:password@|token@]HOST:PORT and mine with the workers that connect to it")
		fs.DurationVar(&f.rangeTime, "range-time", fleet.DefaultRangeTime, "with --nats or --nats-listen: how long a worker should spend on one range")
		fs.DurationVar(&f.lease, "lease", fleet.DefaultLease, "with --nats or --nats-listen: how long a worker has to answer a range before it is handed out again")
	}
}

func (f *natsFlags) enabled() bool { return f.urls != "" || f.listen != "" }

// connect connects to --nats, or starts the --nats-listen server and
// connects to it in process. close releases both.
func (f *natsFlags) connect(ctx context.Context, name string, log *slog.Logger) (nc *nats.Conn, close func(), err error) {
	if f.urls != "" && f.listen != "" {
		return nil, nil, usagef("give --nats or --nats-listen, not both")
	}
	if f.listen != "" {
		srv, err := fleet.StartServer(f.listen)
		if err != nil {
			return nil, nil, usageError{err}
		}
		nc, err := srv.Connect(name)
		if err != nil {
			srv.Shutdown()
			return nil, nil, fmt.Errorf("--nats-listen: %w", err)
		}
		log.Info("NATS server listening", "addr", srv.Addr())
		return nc, func() { nc.Close(); srv.Shutdown() }, nil
	}
	nc, err = fleet.Connect(ctx, fleet.ConnectOptions{URLs: f.urls, Creds: f.creds, CA: f.ca, Name: name, Logger: log})
	if errors.Is(err, fleet.ErrAuthorization) {
		return nil, nil, usagef("--nats: %v", err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--nats: %w", err)
	}
	return nc, nc.Close, nil
}

// coordinator starts a fleet coordinator on the flags' NATS, with m (nil:
// none) mining in this process too.
func (f *natsFlags) coordinator(ctx context.Context, m *engine.Miner, log *slog.Logger) (*fleet.Coordinator, func(), error) {
	nc, closeNC, err := f.connect(ctx, "powchain coordinator", log)
	if err != nil {
		return nil, nil, err
	}
	spareProc(m)
	c, err := fleet.NewCoordinator(nc, fleet.Options{Subject: f.subject, Local: m, Logger: log, RangeTime: f.rangeTime, Lease: f.lease})
	if err != nil {
		closeNC()
		return nil, nil, usageError{err}
	}
	return c, func() { c.Close(); closeNC() }, nil
}

// fleetMiner is minerFlags.miner for commands that can mine with a fleet:
// --workers 0 means no local mining (nil), only with a fleet.
func fleetMiner(m *minerFlags, withFleet bool) (*engine.Miner, error) {
	if withFleet && m.workers == 0 {
		if _, err := hasher.Lookup(m.hasher); err != nil {
			return nil, badInput(err)
		}
		return nil, nil
	}
	if m.workers < 1 {
		return nil, usagef("--workers must be at least 1 (0 only with --nats or --nats-listen), got %d", m.workers)
	}
	return m.miner()
}

// plainLogger writes slog records to w without time or level: the
// one-shot commands' status lines.
func plainLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// printWorkerTotals prints each worker's totals, one line each.
func printWorkerTotals(w io.Writer, c *fleet.Coordinator) {
	for _, wk := range c.Workers() {
		fmt.Fprintf(w, "worker %s (%s): %s, %d cores, %d ranges, %d hashes, %s, %d solutions refused\n",
			wk.Name, wk.ID, wk.Kernel, wk.Cores, wk.Ranges, wk.Hashes, rate(wk.Rate), wk.Refused)
	}
}

// nodeFleet is a coordinator as the node sees it.
type nodeFleet struct{ *fleet.Coordinator }

func (f nodeFleet) FleetWorkers() []node.WorkerInfo {
	ws := f.Workers()
	out := make([]node.WorkerInfo, len(ws))
	for i, w := range ws {
		out[i] = node.WorkerInfo{Name: w.Name, Kernel: w.Kernel, Cores: w.Cores, Rate: w.Rate, LastSeen: w.LastSeen.UTC()}
	}
	return out
}

func (f nodeFleet) FleetStats() node.FleetStats {
	st := f.Stats()
	return node.FleetStats{Connected: f.Connected(), Issued: st.Issued, Reissued: st.Reissued, Answered: st.Answered, Refused: st.Refused, Hashes: st.Hashes}
}
