package node

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ErrRunning is returned by Run when the node is already running or
// closed.
var ErrRunning = errors.New("node: already running or closed")

// Run serves the node's API on ln and runs its background work until ctx
// is cancelled: the auto-miner (with Config.AutoMine), the announcer of
// mined blocks, the syncer (consensus with the peers, every
// Config.SyncInterval and whenever a peer's block shows that a longer
// chain exists), the hash-rate sampler, and the registration with
// Config.Peers at start.
//
// When ctx is cancelled, Run stops mining, lets in-flight requests finish
// (for at most Config.ShutdownTimeout), waits for every goroutine it
// started and returns nil. It returns early with an error only if ln
// fails. The connections it accepts are capped by Limits.Conns and
// Limits.ConnsPerClient. It closes ln but not the store: call Close after Run returns. Run
// may be called once.
func (n *Node) Run(ctx context.Context, ln net.Listener) error {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	n.mu.Lock()
	if n.running || n.closed || n.runCtx != nil {
		n.mu.Unlock()
		ln.Close()
		return ErrRunning
	}
	n.runCtx, n.running = runCtx, true
	n.mu.Unlock()

	srv := &http.Server{
		Handler:           n.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnState:         n.conns.connState,
		BaseContext:       func(net.Listener) context.Context { return runCtx },
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	serveDone := make(chan struct{})
	go func() {
		defer close(serveDone)
		serveErr <- srv.Serve(n.conns.listener(ln))
	}()
	n.log.Info("listening", "addr", ln.Addr().String(), "difficulty", n.target.String(),
		"length", n.Len(), "pending", n.Health().Pending, "peers", len(n.Peers()),
		"auto_mine", n.cfg.AutoMine, "hasher", n.miner.Hasher().Name(), "workers", n.workers)

	n.wg.Go(func() { n.sampleRate(runCtx) })
	n.wg.Go(func() { n.runEvents(runCtx) })
	n.wg.Go(func() { n.announcer(runCtx) })
	n.wg.Go(func() { n.syncer(runCtx) })
	if n.cfg.AutoMine {
		n.wg.Go(func() { n.autoMine(runCtx) })
	}
	n.wg.Go(func() { n.bootstrap(runCtx) })
	for range 2 {
		n.wg.Go(func() { n.introducer(runCtx) })
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	n.log.Info("shutting down")
	stop() // mining, syncing and announcing stop; request contexts are cancelled
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownTimeout)
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	cancel()
	<-serveDone    // no more connections are accepted or refused
	n.conns.wait() // the refusals being answered end
	n.mu.Lock()
	n.running = false
	n.mu.Unlock()
	n.wg.Wait()
	n.peers.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// bootstrap registers with Config.Peers and then looks for a longer chain
// at every known peer. It must be run as a goroutine by Run.
func (n *Node) bootstrap(ctx context.Context) {
	for _, p := range n.cfg.Peers {
		if n.cfg.AdvertiseURL == "" {
			n.log.Warn("cannot register with a peer: this node has no advertise URL", "peer", p)
			break
		}
		reg, err := n.RegisterWith(ctx, p, n.cfg.AdvertiseURL)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.log.Warn("registration failed", "peer", p, "err", err)
			continue
		}
		n.log.Info("registered", "peer", reg.Peer, "their_length", reg.TheirLength, "adopted", reg.Adopted, "new_peers", len(reg.NewPeers))
	}
	n.kickSync()
}

// autoMine mines whenever transactions are pending and queues every block
// it mines for the announcer. It must be run as a goroutine by Run.
func (n *Node) autoMine(ctx context.Context) {
	for {
		b, err := n.mineOne(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			n.log.Error("mining failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if b != nil {
			select {
			case n.announce <- b:
			default: // the peers will catch up by consensus
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-n.work:
		}
	}
}

// announcer posts the blocks the auto-miner queued to the peers, in order.
// It must be run as a goroutine by Run.
func (n *Node) announcer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-n.announce:
			n.announceBlock(ctx, b)
		}
	}
}

// syncer runs the consensus step when kicked and every SyncInterval. It
// must be run as a goroutine by Run.
func (n *Node) syncer(ctx context.Context) {
	var tick <-chan time.Time
	if n.cfg.SyncInterval > 0 {
		t := time.NewTicker(n.cfg.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.syncKick:
		case <-tick:
		}
		n.events.syncProgress(SyncEvent{State: "start", Peers: len(n.Peers()), Length: n.Len()})
		adopted, err := n.Sync(ctx)
		if err != nil && ctx.Err() == nil {
			n.log.Error("sync failed", "err", err)
		}
		n.events.syncProgress(SyncEvent{State: "done", Adopted: adopted, Length: n.Len(), Error: errText(err)})
	}
}
