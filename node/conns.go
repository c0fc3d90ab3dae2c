package node

import (
	"bytes"
	"container/list"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Limits.Conns and Limits.ConnsPerClient.
const (
	DefaultMaxConns          = 4096
	DefaultMaxConnsPerClient = 64
)

// Refusing a connection: how many refusals are answered at once (the
// others are closed without an answer), and how long one may take.
const (
	maxRefusing  = 64
	refuseLinger = time.Second
)

// connLimits caps the connections open at once: in total and per client
// address (clientKey: IPv6 by /64), trusted proxies being exempt from the
// per-client cap. A connection over a cap is accepted, answered 503 with
// Retry-After and a one-line message, and closed, so the listener never
// stops accepting and a client at its cap never delays another. At most
// maxRefusing refusals are being answered at once, each in a goroutine
// of its own for at most refuseLinger (it reads the request's header,
// answers, and discards what else the client sends so that the close
// does not reset the connection before the client reads the answer);
// past that a refused connection is closed at once, with a reset. A connection counts from
// its accept to its close, whatever it does meanwhile: a request, an idle
// keep-alive, a /events stream. Its zero value caps nothing.
//
// Before refusing, a connection over a cap makes room by closing an idle
// one (http.StateIdle: a keep-alive connection between requests, as its
// server's ConnState hook reports it): over the total cap the one idle
// for the longest, over the per-client cap the one of the same client
// address idle for the longest. A connection in the middle of a request
// or a /events stream is never idle, nor is a new one that has sent no
// request yet (ReadHeaderTimeout ends those). Closing an idle keep-alive
// connection is allowed by HTTP: a client retries an idempotent request
// on a new connection. The idle connections are kept in lists in the order
// they became idle, so admitting, evicting and a change of state cost
// O(1) under mu.
type connLimits struct {
	total, perClient int // caps; 0 for none
	proxies          *proxyTrust
	refusedTotal     atomic.Uint64
	refusedClient    atomic.Uint64
	evictedTotal     atomic.Uint64
	evictedClient    atomic.Uint64
	refusedProxied   atomic.Uint64

	mu         sync.Mutex
	open       int
	clients    map[netip.Addr]int
	idle       list.List                 // of *limitedConn, oldest idle first
	clientIdle map[netip.Addr]*list.List // the same per keyed client address
	refusing   chan struct{}             // a token per refusal being answered
	proxied    map[netip.Addr]int        // requests in flight per client behind a trusted proxy
	answers    sync.WaitGroup
}

func newConnLimits(total, perClient int, proxies *proxyTrust) *connLimits {
	return &connLimits{
		total: max(total, 0), perClient: max(perClient, 0), proxies: proxies,
		clients: map[netip.Addr]int{}, clientIdle: map[netip.Addr]*list.List{},
		proxied:  map[netip.Addr]int{},
		refusing: make(chan struct{}, maxRefusing),
	}
}

// openConns returns how many connections are open.
func (l *connLimits) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// listener wraps ln so that its connections are capped.
func (l *connLimits) listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l}
}

type limitListener struct {
	net.Listener
	l *connLimits
}

// Accept returns the next connection under the caps, answering and
// closing those over them.
func (ln *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := ln.l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// admit returns c counted, or nil when it is over a cap (it is then
// being refused).
func (l *connLimits) admit(c net.Conn) net.Conn {
	key, keyed := connAddr(c.RemoteAddr())
	if keyed && (l.perClient == 0 || l.proxies.trusted(key)) {
		keyed = false
	}
	key = clientKey(key)
	l.mu.Lock()
	overTotal := l.total > 0 && l.open >= l.total
	overClient := keyed && l.clients[key] >= l.perClient
	var victim *limitedConn
	switch {
	case overClient:
		// The client's own oldest idle connection frees both caps.
		if il := l.clientIdle[key]; il != nil && il.Len() > 0 {
			victim = il.Front().Value.(*limitedConn)
			l.evictedClient.Add(1)
		}
	case overTotal:
		if l.idle.Len() > 0 {
			victim = l.idle.Front().Value.(*limitedConn)
			l.evictedTotal.Add(1)
		}
	}
	if victim != nil {
		victim.closed = true
		l.releaseLocked(victim)
		overTotal, overClient = false, false
	}
	switch {
	case overTotal:
		l.refusedTotal.Add(1)
	case overClient:
		l.refusedClient.Add(1)
	default:
		l.open++
		if keyed {
			l.clients[key]++
		}
		l.mu.Unlock()
		if victim != nil {
			victim.Conn.Close() // its server goroutine's read fails; Close then uncounts nothing
		}
		return &limitedConn{Conn: c, l: l, key: key, keyed: keyed}
	}
	l.mu.Unlock()
	select {
	case l.refusing <- struct{}{}:
		l.answers.Go(func() {
			defer func() { <-l.refusing }()
			msg := fmt.Sprintf("Too many connections from %s: at most %d open at once from one client address; close some or retry later\n", key, l.perClient)
			if overTotal {
				msg = fmt.Sprintf("Too many connections: the node has its maximum of %d open; retry later\n", l.total)
			}
			answerRefused(c, msg)
		})
	default:
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // no TIME_WAIT left behind
		}
		c.Close()
	}
	return nil
}

// proxiedCap wraps the API's handler: a trusted proxy's connections are
// exempt from the per-client cap (they carry many clients' requests), so
// the cap applies to the clients it names instead, as requests in flight
// at once. A request through a trusted proxy counts against its client
// (clientOf, by clientKey) from the moment it is routed until its handler
// returns (a /events stream for as long as it lasts); past
// Limits.ConnsPerClient it is answered 503 with Retry-After and a line
// naming the cap, and the proxy's connection stays open. Direct requests are not
// counted here: their connections are. The table holds the clients with a
// request in flight, so it is bounded by the requests the server runs.
func (l *connLimits) proxiedCap(h http.Handler) http.Handler {
	if l.perClient == 0 || l.proxies == nil || len(l.proxies.prefixes) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, proxied, ok := l.proxies.clientOf(r)
		if !proxied || !ok {
			h.ServeHTTP(w, r)
			return
		}
		key := clientKey(a)
		l.mu.Lock()
		if l.proxied[key] >= l.perClient {
			l.mu.Unlock()
			l.refusedProxied.Add(1)
			w.Header().Set("Retry-After", "1")
			writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("Too many requests in flight from %s: at most %d at once from one client address; retry when one has ended\n", key, l.perClient))
			return
		}
		l.proxied[key]++
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			if l.proxied[key]--; l.proxied[key] == 0 {
				delete(l.proxied, key)
			}
			l.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// wait waits for the refusals being answered (refuseLinger at most).
func (l *connLimits) wait() { l.answers.Wait() }

// connAddr returns the IP address of a connection's peer, without zone
// and unmapped; ok is false when it has none.
func connAddr(a net.Addr) (netip.Addr, bool) {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip := ta.AddrPort().Addr()
		return ip.Unmap().WithZone(""), ip.IsValid()
	}
	return peerAddr(a.String())
}

// releaseLocked uncounts c, which is closing or evicted, and forgets it
// as idle. l.mu is held.
func (l *connLimits) releaseLocked(c *limitedConn) {
	l.unidleLocked(c)
	l.open--
	if c.keyed {
		if l.clients[c.key]--; l.clients[c.key] <= 0 {
			delete(l.clients, c.key)
		}
	}
}

// unidleLocked forgets c as idle. l.mu is held.
func (l *connLimits) unidleLocked(c *limitedConn) {
	if c.idleAll == nil {
		return
	}
	l.idle.Remove(c.idleAll)
	c.idleAll = nil
	if c.idleClient != nil {
		il := l.clientIdle[c.key]
		il.Remove(c.idleClient)
		c.idleClient = nil
		if il.Len() == 0 {
			delete(l.clientIdle, c.key)
		}
	}
}

// connState is the http.Server's ConnState hook: it keeps the lists of
// idle connections. A connection goes to the back of them when it turns
// idle and leaves them when it turns active, is hijacked or closes.
func (l *connLimits) connState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*limitedConn)
	if !ok || st == http.StateNew {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st != http.StateIdle {
		l.unidleLocked(c)
		return
	}
	if c.closed || c.idleAll != nil {
		return
	}
	c.idleAll = l.idle.PushBack(c)
	if c.keyed {
		il := l.clientIdle[c.key]
		if il == nil {
			il = list.New()
			l.clientIdle[c.key] = il
		}
		c.idleClient = il.PushBack(c)
	}
}

// answerRefused answers a refused connection 503 and closes it. It reads
// the request's header first (at most 4 KiB of it): an HTTP client may
// take an answer that comes before its request for a broken connection.
// A client that sends nothing in refuseLinger gets no answer.
func answerRefused(c net.Conn, msg string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(refuseLinger))
	var buf [4096]byte
	for n := 0; !bytes.Contains(buf[:n], []byte("\r\n\r\n")) && n < len(buf); {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return
		}
	}
	_, err := fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
	if err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// limitedConn is a connection counted by its connLimits until it is
// closed or evicted.
type limitedConn struct {
	net.Conn
	l     *connLimits
	key   netip.Addr
	keyed bool

	// Guarded by l.mu:
	closed              bool          // uncounted: closed or evicted
	idleAll, idleClient *list.Element // in l.idle and l.clientIdle[key] while idle
}

func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	if !c.closed {
		c.closed = true
		c.l.releaseLocked(c)
	}
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite lets net/http half-close the connection after an answer that
// ends it (413 on the header, say) and read what the client still sends,
// so that the client gets the answer and not a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
