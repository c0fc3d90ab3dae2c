package node

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxClients is how many client addresses the rate limiter remembers; when
// it is full, clients not seen for a minute are forgotten, and if none is,
// the table starts over.
const maxClients = 10000

// rateLimiter limits each client address to a rate of requests, with
// golang.org/x/time/rate's token buckets. A nil *rateLimiter allows
// everything.
type rateLimiter struct {
	limit    rate.Limit
	burst    int
	loopback bool // limit loopback clients too

	mu      sync.Mutex
	clients map[netip.Addr]*clientRate
}

type clientRate struct {
	lim  *rate.Limiter
	seen time.Time
}

// newRateLimiter returns a limiter of perSecond requests per client, in
// bursts of burst (default twice the rate, at least 1); nil when
// perSecond is 0 or less.
func newRateLimiter(perSecond float64, burst int, loopback bool) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(2*perSecond))
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, loopback: loopback, clients: map[netip.Addr]*clientRate{}}
}

// allow reports whether the client at remote (a request's RemoteAddr) may
// make a request now.
func (l *rateLimiter) allow(remote string, now time.Time) bool {
	if l == nil {
		return true
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return true // not a TCP client (a test's handler call)
	}
	a = a.Unmap().WithZone("")
	if a.IsLoopback() && !l.loopback {
		return true
	}
	if a.Is6() {
		// One client is one /64: a host gets a whole one.
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[a]
	if c == nil {
		if len(l.clients) >= maxClients {
			for k, v := range l.clients {
				if now.Sub(v.seen) > time.Minute {
					delete(l.clients, k)
				}
			}
			if len(l.clients) >= maxClients {
				clear(l.clients)
			}
		}
		c = &clientRate{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[a] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}

// limited wraps a handler of a state-changing endpoint: a client over its
// rate gets 429 with Retry-After.
func (n *Node) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !n.limiter.allow(r.RemoteAddr, time.Now()) {
			w.Header().Set("Retry-After", "1")
			refuse(w, http.StatusTooManyRequests, fmt.Sprintf("Too many requests from %s: at most %g a second; retry later", r.RemoteAddr, float64(n.limiter.limit)))
			return
		}
		h(w, r)
	}
}
