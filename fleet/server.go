package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrAuthorization is returned by Connect when the NATS server refuses the
// credentials.
var ErrAuthorization = errors.New("authorization failed")

// ConnectOptions says how to reach a NATS server.
type ConnectOptions struct {
	// URLs is a comma-separated list of nats:// or tls:// URLs; a
	// user:password@ or token@ in a URL is its credentials.
	URLs string
	// Creds is a NATS credentials file (JWT and NKey seed), if any.
	Creds string
	// CA is a PEM file of CAs to trust for tls:// URLs besides the
	// system's, if any.
	CA string
	// Name is the connection's name as the server shows it.
	Name string
	// Logger receives disconnects and reconnects; nil discards them.
	Logger *slog.Logger
}

// Connect connects to NATS and keeps reconnecting for as long as the
// connection lives. While no server can be reached at first it tries
// again every second until ctx is done; refused credentials return an
// error wrapping ErrAuthorization at once.
func Connect(ctx context.Context, o ConnectOptions) (*nats.Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var urls []string
	for _, u := range strings.Split(o.URLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if _, err := url.Parse(u); err != nil {
				return nil, fmt.Errorf("NATS URL %q: %w", u, err)
			}
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, errors.New("no NATS URL given")
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.Timeout(2 * time.Second),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	warned := false
	for {
		nc, err := nats.Connect(strings.Join(urls, ","), opts...)
		if err == nil {
			return nc, nil
		}
		if isAuthError(err) {
			return nil, fmt.Errorf("NATS %s: %w (%v)", redact(urls), ErrAuthorization, err)
		}
		if !errors.Is(err, nats.ErrNoServers) {
			return nil, fmt.Errorf("NATS %s: %w", redact(urls), err)
		}
		if !warned {
			log.Warn("no NATS server reachable; trying again every second", "urls", redact(urls), "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(time.Second):
		}
	}
}

func isAuthError(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "authorization") || strings.Contains(s, "authentication")
}

// redact drops the credentials from URLs for messages.
func redact(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			out[i] = s
			continue
		}
		u.User = url.User("xxx")
		out[i] = u.String()
	}
	return strings.Join(out, ",")
}

// Server is an embedded NATS server.
type Server struct {
	*server.Server
	user, password, token string
}

// StartServer starts a NATS server in this process on listen,
// [user:password@|token@]HOST:PORT, with those credentials required when
// given (port 0 picks a free port). Shutdown stops it.
func StartServer(listen string) (*Server, error) {
	s := &Server{}
	hostport := listen
	if at := strings.LastIndex(listen, "@"); at >= 0 {
		cred := listen[:at]
		hostport = listen[at+1:]
		if i := strings.Index(cred, ":"); i >= 0 {
			s.user, s.password = cred[:i], cred[i+1:]
		} else {
			s.token = cred
		}
		if cred == "" || (s.token == "" && s.user == "") {
			return nil, fmt.Errorf("--nats-listen %q: empty credentials before @", listen)
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: want [user:password@|token@]HOST:PORT: %w", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("--nats-listen %q: port %q is not a number in [0, 65535]", listen, port)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host:          host,
		Port:          p,
		Username:      s.user,
		Password:      s.password,
		Authorization: s.token,
		NoSigs:        true,
		NoLog:         true,
		MaxPayload:    8 << 20,
		MaxPending:    64 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("--nats-listen %q: %w", listen, err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("--nats-listen %q: the NATS server did not start listening", listen)
	}
	s.Server = srv
	return s, nil
}

// Addr returns the address clients connect to.
func (s *Server) Addr() string { return s.Server.Addr().String() }

// Connect connects to the embedded server in process, with its
// credentials.
func (s *Server) Connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.InProcessServer(s.Server)}
	switch {
	case s.user != "":
		opts = append(opts, nats.UserInfo(s.user, s.password))
	case s.token != "":
		opts = append(opts, nats.Token(s.token))
	}
	return nats.Connect("", opts...)
}
