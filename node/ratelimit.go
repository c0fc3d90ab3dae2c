package node

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxClients is how many client addresses the rate limiter remembers.
const maxClients = 10000

// sweepEvery is how often, at most, a full table is swept.
const sweepEvery = time.Second

// rateLimiter limits each client address to a rate of requests, with
// golang.org/x/time/rate's token buckets. A nil *rateLimiter allows
// everything.
//
// It remembers at most maxClients addresses. When the table is full it
// forgets the clients whose bucket is full again: such a client is
// limited exactly as a new one would be, so forgetting it changes nothing.
// If every remembered client has used part of its burst (more than
// maxClients addresses busy within burst/rate seconds), the addresses it
// cannot remember share one more bucket, of one client's rate and burst,
// until a sweep (at most once every sweepEvery) makes room. So a flood of
// fresh addresses neither resets the buckets of the clients being limited
// nor grows the table, and costs one sweep a second.
type rateLimiter struct {
	limit    rate.Limit
	burst    int
	loopback bool // limit loopback clients too

	mu        sync.Mutex
	clients   map[netip.Addr]*rate.Limiter
	overflow  *rate.Limiter // shared by the clients not remembered
	lastSweep time.Time
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
	return &rateLimiter{
		limit: rate.Limit(perSecond), burst: burst, loopback: loopback,
		clients:  map[netip.Addr]*rate.Limiter{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// allow reports whether client (a clientKey) may make a request now.
// direct says the request came straight from the client, not through a
// trusted proxy: only then is a loopback client exempt (unless loopback
// is set), since behind a proxy on the same host every peer is loopback.
func (l *rateLimiter) allow(client netip.Addr, direct bool, now time.Time) bool {
	if l == nil {
		return true
	}
	if direct && client.IsLoopback() && !l.loopback {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.clients[client]
	if lim == nil {
		if len(l.clients) >= maxClients && now.Sub(l.lastSweep) >= sweepEvery {
			l.lastSweep = now
			for k, v := range l.clients {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.clients, k)
				}
			}
		}
		if len(l.clients) >= maxClients {
			return l.overflow.AllowN(now, 1)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.clients[client] = lim
	}
	return lim.AllowN(now, 1)
}

// limited wraps a handler of a state-changing endpoint: a client over its
// rate gets 429 with Retry-After. The client is the request's peer, or
// the client a trusted proxy names (see proxyTrust.clientOf).
func (n *Node) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if n.limiter != nil {
			a, proxied, ok := n.proxies.clientOf(r)
			if ok && !n.limiter.allow(clientKey(a), !proxied, time.Now()) {
				n.metrics.rateLimited.Inc()
				w.Header().Set("Retry-After", "1")
				refuse(w, http.StatusTooManyRequests, fmt.Sprintf("Too many requests from %s: at most %g a second; retry later", a, float64(n.limiter.limit)))
				return
			}
		}
		h(w, r)
	}
}
