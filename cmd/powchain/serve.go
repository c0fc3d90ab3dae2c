package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/powchain/powchain/node"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run a node: the reference REST API over a durable store, with peers and consensus; exits 0 after SIGINT/SIGTERM",
		examples: []string{
			"powchain serve --addr 127.0.0.1:8000 --data ./node-a --difficulty 2 --auto-mine",
			"powchain serve --addr 127.0.0.1:8001 --data ./node-b --peers http://127.0.0.1:8000",
			"powchain serve --data ./node-c --import chain.json --debug-addr 127.0.0.1:6060",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			o := &serveOptions{}
			o.register(fs)
			return func(ctx context.Context, e env, args []string) error { return runServe(ctx, e, o, args) }
		},
	})
}

// nodeFlags are the flags serve and import share: the data dir and the
// difficulty it was made for.
type nodeFlags struct {
	data       string
	difficulty difficultyFlags
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "powchain-data", "data directory `DIR` of the node's store (created if missing)")
	f.difficulty.register(fs, 2)
}

type serveOptions struct {
	nodeFlags
	miner        minerFlags
	nats         natsFlags
	profile      profileFlags
	addr         string
	advertise    string
	autoMine     bool
	peers        string
	debugAddr    string
	importFile   string
	syncInterval time.Duration
	peerTimeout  time.Duration
	batchDelay   time.Duration
	logFormat    string
	logLevel     string
	ui           bool
	events       node.EventsConfig
	revalidate   bool
	poolBytes    int
	blockBytes   int64
	chainBytes   int64
	maxPeers     int
	peerAllow    string
	adminToken   string
	rateLimit    float64
	rateBurst    int
	conns        connFlags

	onListen func(addr string) // tests: called with the address served
}

func (o *serveOptions) register(fs *flag.FlagSet) {
	o.nodeFlags.register(fs)
	o.miner.register(fs)
	o.nats.register(fs, true)
	o.profile.register(fs)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8000", "address to serve the API on (port 0 picks a free port)")
	fs.StringVar(&o.advertise, "advertise", "", "this node's base URL as peers should call it (default http://ADDR/ when --addr names a host)")
	fs.BoolVar(&o.autoMine, "auto-mine", false, "mine whenever transactions are pending (otherwise only on /mine)")
	fs.StringVar(&o.peers, "peers", "", "comma-separated base URLs of nodes to register with at start")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060); never on --addr")
	fs.StringVar(&o.importFile, "import", "", "import this chain dump (validated; adopted when longer) before serving")
	fs.DurationVar(&o.syncInterval, "sync-interval", node.DefaultSyncInterval, "how often to ask peers for a longer chain (0 disables the periodic check)")
	fs.DurationVar(&o.peerTimeout, "peer-timeout", node.DefaultPeerTimeout, "timeout for connecting to a peer and for its answer's headers")
	fs.DurationVar(&o.batchDelay, "batch-delay", node.DefaultBatchDelay, "group commit: how long to gather concurrent transactions into one fsync")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&o.ui, "ui", true, "serve the dashboard at / (--ui=false turns it off; GET /events stays)")
	fs.IntVar(&o.events.MaxSubscribers, "events-max", node.DefaultMaxSubscribers, "most GET /events streams open at once (a browser shares one between its tabs)")
	fs.IntVar(&o.events.MaxPerClient, "events-per-client", 0, "most GET /events streams from one client address (default --events-max/8, at least 1; direct loopback clients are exempt)")
	fs.BoolVar(&o.revalidate, "revalidate", false, "validate every stored block at start (otherwise the chain index is checked against its checksum)")
	fs.IntVar(&o.poolBytes, "pool-bytes", 128<<20, "bytes of pending transactions (canonical JSON) the pool holds; more get 503 with Retry-After")
	fs.Int64Var(&o.blockBytes, "block-bytes", 2<<20, "largest block accepted, in a POST /add_block body or a peer's chain")
	fs.Int64Var(&o.chainBytes, "chain-bytes", 256<<20, "largest peer's chain answer (GET /chain, counted decompressed) and largest fork staged on disk before it is longer than ours; both are read block by block, so this bounds disk and time, not memory")
	fs.IntVar(&o.maxPeers, "max-peers", 128, "most peers the node keeps; more registrations get 503")
	fs.StringVar(&o.peerAllow, "peer-allow", "", "comma-separated CIDRs, addresses and host names allowed as peers besides public addresses (and loopback when --addr is loopback)")
	fs.StringVar(&o.adminToken, "admin-token", "", "require \"Authorization: Bearer TOKEN\" on /register_node, /register_with and DELETE /peers/{url} (default: open, as the reference node)")
	fs.Float64Var(&o.rateLimit, "rate-limit", 20, "requests per second per client address on the endpoints that change state; 0 disables; loopback clients are not limited, unless they come through a --trusted-proxy")
	fs.IntVar(&o.rateBurst, "rate-burst", 40, "burst allowed over --rate-limit")
	o.conns.register(fs)
}

// connFlags cap the API's connections and name the trusted proxies.
type connFlags struct {
	max, perClient int
	trustedProxy   string
	proxyHeader    string
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.max, "max-conns", node.DefaultMaxConns, "most connections open at once; one more is answered 503 and closed; 0 for no cap")
	fs.IntVar(&f.perClient, "max-conns-per-client", node.DefaultMaxConnsPerClient, "most connections open at once from one client address (IPv6: one /64), loopback included; --trusted-proxy peers are exempt, and the clients they name may have this many requests in flight at once; 0 for no cap")
	fs.StringVar(&f.trustedProxy, "trusted-proxy", "", "comma-separated CIDRs or addresses of reverse proxies in front of the node: their requests are rate-limited by the client they name in --proxy-header")
	fs.StringVar(&f.proxyHeader, "proxy-header", node.HeaderXForwardedFor, "the header the trusted proxies name the client in: X-Forwarded-For or Forwarded (only that one is read)")
}

// check checks the flags: a bad one is a usage error.
func (f *connFlags) check() error {
	if f.max < 0 || f.perClient < 0 {
		return usagef("--max-conns and --max-conns-per-client must not be negative (0 for no cap)")
	}
	if _, err := node.ParseTrustedProxies(splitList(f.trustedProxy)); err != nil {
		return usagef("--trusted-proxy: %v", err)
	}
	if !strings.EqualFold(f.proxyHeader, node.HeaderXForwardedFor) && !strings.EqualFold(f.proxyHeader, node.HeaderForwarded) {
		return usagef("--proxy-header must be %s or %s, got %q", node.HeaderXForwardedFor, node.HeaderForwarded, f.proxyHeader)
	}
	return nil
}

// apply sets the flags, checked, in cfg.
func (f *connFlags) apply(cfg *node.Config) {
	noCap := func(v int) int {
		if v == 0 {
			return -1 // node.Limits: negative is no cap
		}
		return v
	}
	cfg.Limits.Conns, cfg.Limits.ConnsPerClient = noCap(f.max), noCap(f.perClient)
	cfg.TrustedProxies, _ = node.ParseTrustedProxies(splitList(f.trustedProxy))
	cfg.ProxyHeader = f.proxyHeader
}

// logger makes the slog logger of --log-format and --log-level.
func (o *serveOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format must be text or json, got %q", o.logFormat)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// openNode opens the node in the data dir; a data dir made for another
// chain is a usage error (exit 2).
func openNode(cfg node.Config) (*node.Node, error) {
	n, err := node.Open(cfg)
	if errors.Is(err, node.ErrDataDirMismatch) || errors.Is(err, node.ErrDataDirLocked) {
		return nil, usageError{err}
	}
	return n, err
}

// runServe runs a node until ctx is cancelled (SIGINT or SIGTERM), then
// shuts it down cleanly and returns nil.
func runServe(ctx context.Context, e env, o *serveOptions, args []string) (err error) {
	if len(args) > 0 {
		return usagef("serve takes no arguments, got %q", args)
	}
	target, err := o.difficulty.target()
	if err != nil {
		return err
	}
	m, err := fleetMiner(&o.miner, o.nats.enabled())
	if err != nil {
		return err
	}
	log, err := o.logger(e.stderr)
	if err != nil {
		return err
	}
	peers := splitList(o.peers)
	for _, p := range peers {
		if _, err := node.NormalizePeer(p); err != nil {
			return usagef("--peers: %s", peerURLProblem(err))
		}
	}
	if o.advertise != "" {
		if _, err := node.NormalizePeer(o.advertise); err != nil {
			return usagef("--advertise: %s", peerURLProblem(err))
		}
	}
	if err := checkAddr(o.addr); err != nil {
		return usagef("--addr: %v", err)
	}
	if o.debugAddr != "" {
		if err := checkAddr(o.debugAddr); err != nil {
			return usagef("--debug-addr: %v", err)
		}
	}
	policy, err := node.NewPeerPolicy(o.addr, splitList(o.peerAllow))
	if err != nil {
		return usagef("--peer-allow: %v", err)
	}
	if o.poolBytes < 0 || o.blockBytes < 0 || o.chainBytes < 0 || o.maxPeers < 0 {
		return usagef("--pool-bytes, --block-bytes, --chain-bytes and --max-peers must not be negative")
	}
	if err := o.conns.check(); err != nil {
		return err
	}
	sync := o.syncInterval
	if sync == 0 {
		sync = -1 // node.Config: negative disables
	}

	// Validate the dump before anything is opened, so bad input fails
	// early and changes nothing.
	var dump *importSource
	if o.importFile != "" {
		if dump, err = openImport(ctx, e, o.importFile, target); err != nil {
			return err
		}
		defer dump.close()
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	defer ln.Close()
	advertise := o.advertise
	if advertise == "" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
			advertise = "http://" + a.String() + "/"
		}
	}

	stop, err := o.profile.start()
	if err != nil {
		return err
	}
	defer stopProfiles(stop, &err)

	var fl node.Fleet
	if o.nats.enabled() {
		c, closeFleet, err := o.nats.coordinator(ctx, m, log)
		if err != nil {
			return err
		}
		defer closeFleet()
		fl = nodeFleet{c}
	}

	cfg := node.Config{
		DataDir:      o.data,
		Target:       target,
		Miner:        m,
		Fleet:        fl,
		AutoMine:     o.autoMine,
		Peers:        peers,
		AdvertiseURL: advertise,
		Logger:       log,
		SyncInterval: sync,
		PeerTimeout:  o.peerTimeout,
		BatchDelay:   o.batchDelay,
		UI:           o.ui,
		Events:       o.events,
		Revalidate:   o.revalidate,
		Limits:       node.Limits{PoolBytes: o.poolBytes, BlockBytes: o.blockBytes, ChainBytes: o.chainBytes, Peers: o.maxPeers},
		PeerPolicy:   policy,
		AdminToken:   o.adminToken,
		RateLimit:    o.rateLimit,
		RateBurst:    o.rateBurst,
	}
	o.conns.apply(&cfg)
	n, err := openNode(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := n.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if dump != nil {
		if err := dump.into(ctx, e, n); err != nil {
			return err
		}
		dump.close()
	}

	if o.debugAddr != "" {
		dbg, err := startDebug(o.debugAddr, log)
		if err != nil {
			return err
		}
		defer dbg.Close()
	}
	if o.onListen != nil {
		o.onListen(ln.Addr().String())
	}
	return n.Run(ctx, ln)
}

// checkAddr checks a listen address before it is used: HOST:PORT with a
// port from 0 to 65535 (or a service name), so a mistyped address is bad
// usage (exit 2) and not a failure to listen.
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT", addr)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return fmt.Errorf("port %d out of range [0, 65535]", n)
		}
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("unknown port %q", port)
	}
	return nil
}

// startDebug serves net/http/pprof on its own address and mux.
func startDebug(addr string, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("debug server (pprof) listening", "addr", ln.Addr().String())
	return srv, nil
}

// peerURLProblem says what is wrong with a peer URL given in a flag: the
// flag names it, so not the API's field ("node_address") that
// node.NormalizePeer names.
func peerURLProblem(err error) string {
	var ie *node.InputError
	if errors.As(err, &ie) {
		return ie.Msg
	}
	return userMessage(err)
}
