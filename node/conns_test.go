package node

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The tests in this file open real TCP connections on loopback from
// several source addresses: Linux routes all of 127.0.0.0/8 to lo, so
// 127.0.0.2 is another client on the same machine.

// dialFrom dials addr from the loopback address src, skipping the test
// where the system cannot bind it.
func dialFrom(t testing.TB, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if strings.Contains(err.Error(), "assign requested address") {
			t.Skipf("cannot dial from %s: %v", src, err)
		}
		t.Fatal(err)
	}
	return c
}

// clientFrom is an HTTP client whose connections come from src.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// getFrom sends GET url from src and returns the status and body.
func getFrom(t testing.TB, src, url string) (int, string) {
	t.Helper()
	resp, err := clientFrom(src).Get(url)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, src, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestConnCaps: one address holding its cap of connections is refused
// more, with a 503 a real client reads, while another address is served;
// the total cap refuses everyone; closing frees the slots; /metrics
// counts it all.
func TestConnCaps(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.Conns, cfg.Limits.ConnsPerClient = 12, 8
	a := startNode(t, cfg, "127.0.0.1:0")

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 8 { // idle: they send nothing
		held = append(held, dialFrom(t, "127.0.0.1", a.addr))
	}
	waitFor(t, 10*time.Second, "8 connections counted", func() bool { return a.conns.openConns() == 8 })

	// One more from 127.0.0.1, as a raw request and through net/http.
	for range 3 {
		c := dialFrom(t, "127.0.0.1", a.addr)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("a refused connection got no answer: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "Too many connections from 127.0.0.1: at most 8 open at once") {
			t.Fatalf("over the per-client cap: %d %q Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	if code, body := getFrom(t, "127.0.0.1", a.url+"health"); code != 503 || !strings.Contains(body, "from 127.0.0.1") {
		t.Fatalf("net/http client over the cap: %d %q", code, body)
	}
	// Another address is served meanwhile.
	if code, body := getFrom(t, "127.0.0.2", a.url+"health"); code != 200 {
		t.Fatalf("127.0.0.2 while 127.0.0.1 is at its cap: %d %q", code, body)
	}

	// The total: 8 + 4 from 127.0.0.2 fill it; 127.0.0.3 is refused.
	waitFor(t, 10*time.Second, "127.0.0.2's request released", func() bool { return a.conns.openConns() == 8 })
	for range 4 {
		held = append(held, dialFrom(t, "127.0.0.2", a.addr))
	}
	waitFor(t, 10*time.Second, "12 connections counted", func() bool { return a.conns.openConns() == 12 })
	if code, body := getFrom(t, "127.0.0.3", a.url+"health"); code != 503 || !strings.Contains(body, "maximum of 12 open") {
		t.Fatalf("over the total cap: %d %q", code, body)
	}

	for _, c := range held {
		c.Close()
	}
	held = nil
	waitFor(t, 10*time.Second, "the connections released", func() bool { return a.conns.openConns() == 0 })
	if code, _ := getFrom(t, "127.0.0.1", a.url+"health"); code != 200 {
		t.Fatalf("127.0.0.1 after closing its connections: %d", code)
	}
	if v := metric(t, a, `powchain_connections_refused_total{cap="per_client"}`); v != 4 {
		t.Errorf("per-client refusals counted %v, want 4", v)
	}
	if v := metric(t, a, `powchain_connections_refused_total{cap="total"}`); v != 1 {
		t.Errorf("total refusals counted %v, want 1", v)
	}
	if v := metric(t, a, `powchain_connections_open`); v < 1 {
		t.Errorf("open connections %v while /metrics is asked, want at least its own", v)
	}
}

// TestIdleConnsBounded: 600 idle connections from one address cost the
// node a goroutine each without a cap, and at most the cap (plus the
// refusals being answered) with one.
func TestIdleConnsBounded(t *testing.T) {
	const conns = 600
	grow := func(perClient int) int {
		cfg := testConfig(t, "")
		cfg.Limits.ConnsPerClient = perClient
		a := startNode(t, cfg, "127.0.0.1:0")
		defer a.stop()
		dialFrom(t, "127.0.0.2", a.addr).Close() // skips where 127.0.0.2 cannot be bound
		time.Sleep(100 * time.Millisecond)
		base := runtime.NumGoroutine()
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		deadline := time.Now().Add(20 * time.Second)
		reset := 0
		for range conns {
			if time.Now().After(deadline) {
				t.Fatalf("dialing %d connections took over 20 s", conns)
			}
			c, err := net.DialTimeout("tcp", a.addr, 5*time.Second)
			if err != nil {
				// Refused connections past the ones being answered are
				// closed at once, which can reset the dial itself.
				if perClient < 0 || !strings.Contains(err.Error(), "reset") {
					t.Fatal(err)
				}
				reset++
				continue
			}
			held = append(held, c)
		}
		// Let the node accept them all: wait until the goroutine count
		// has been steady for half a second.
		last, steady := runtime.NumGoroutine(), time.Now()
		for time.Since(steady) < 500*time.Millisecond && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			if g := runtime.NumGoroutine(); g != last {
				last, steady = g, time.Now()
			}
		}
		if reset > 0 {
			t.Logf("%d dials were reset", reset)
		}
		// Another address is served meanwhile, however busy the refusals.
		if code, body := getFrom(t, "127.0.0.2", a.url+"health"); code != 200 {
			t.Fatalf("127.0.0.2 while 127.0.0.1 floods: %d %q", code, body)
		}
		return runtime.NumGoroutine() - base
	}
	uncapped := grow(-1)
	capped := grow(16)
	t.Logf("%d idle connections: %d more goroutines without a cap, %d with 16 per client", conns, uncapped, capped)
	if uncapped < conns*9/10 {
		t.Fatalf("without a cap %d connections made only %d goroutines: the test measures nothing", conns, uncapped)
	}
	if capped > 16+maxRefusing+10 {
		t.Fatalf("with a cap of 16 per client, %d idle connections made %d goroutines", conns, capped)
	}
}

// TestTrustedProxy: behind a real reverse proxy on loopback, clients are
// rate-limited by the address the proxy forwards, though every request
// reaches the node from the proxy's loopback address; a client's own
// X-Forwarded-For is not believed, and neither is a direct client's.
func TestTrustedProxy(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.RateLimit, cfg.RateBurst = 0.5, 3
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cfg.Limits.ConnsPerClient = 4
	a := startNode(t, cfg, "127.0.0.1:0")
	// 127.0.0.1, the proxy's address, holds 4 idle connections: the
	// proxy's own are not refused, since a trusted proxy has no
	// per-client cap.
	for range 4 {
		c := dialFrom(t, "127.0.0.1", a.addr)
		defer c.Close()
	}
	waitFor(t, 10*time.Second, "4 connections counted", func() bool { return a.conns.openConns() == 4 })
	target, _ := url.Parse(a.url)
	rp := httputil.NewSingleHostReverseProxy(target) // appends the peer to X-Forwarded-For
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	rp.Transport = tr
	proxy := httptest.NewServer(rp) // on 127.0.0.1
	defer proxy.Close()
	defer tr.CloseIdleConnections()

	post := func(src, base, xff string, i int) (int, string) {
		req, _ := http.NewRequest("POST", base+"new_transaction", strings.NewReader(fmt.Sprintf(`{"author": %q, "content": "%d"}`, src, i)))
		req.Header.Set("Content-Type", "application/json")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := clientFrom(src).Do(req)
		if err != nil {
			t.Fatalf("POST from %s: %v", src, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	counts := func(src, base string, n int, xff func(i int) string) map[int]int {
		codes := map[int]int{}
		for i := range n {
			code, body := post(src, base, xff(i), i)
			codes[code]++
			if code == 429 && !strings.Contains(body, "Too many requests from "+src) {
				t.Errorf("429 names the wrong client: %q", body)
			}
		}
		return codes
	}
	none := func(int) string { return "" }
	dialFrom(t, "127.0.0.3", a.addr).Close() // skips where 127.0.0.3 cannot be bound

	// 127.0.0.3 through the proxy goes over its rate; 127.0.0.4 is not
	// touched by that.
	if c := counts("127.0.0.3", proxy.URL+"/", 5, none); c[201] != 3 || c[429] != 2 {
		t.Fatalf("127.0.0.3 through the proxy: %v, want 3 x 201 and 2 x 429", c)
	}
	if c := counts("127.0.0.4", proxy.URL+"/", 3, none); c[201] != 3 {
		t.Fatalf("127.0.0.4 through the proxy after 127.0.0.3 was limited: %v", c)
	}
	// A client that forges X-Forwarded-For through the proxy is still
	// known by the address the proxy appends.
	if c := counts("127.0.0.5", proxy.URL+"/", 5, func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }); c[201] != 3 || c[429] != 2 {
		t.Fatalf("127.0.0.5 forging X-Forwarded-For through the proxy: %v", c)
	}
	// A direct client is exempt as loopback (it is not the proxy), and
	// its header is not read: forging an address that is over its rate
	// does not limit it.
	if c := counts("127.0.0.6", a.url, 5, func(int) string { return "127.0.0.3" }); c[201] != 5 {
		t.Fatalf("direct loopback client forging X-Forwarded-For: %v", c)
	}
	// Where loopback clients are limited, forging fresh addresses gains a
	// direct client nothing.
	cfg2 := testConfig(t, "")
	cfg2.RateLimit, cfg2.RateBurst, cfg2.RateLoopback = 0.5, 3, true
	cfg2.TrustedProxies = cfg.TrustedProxies
	b := startNode(t, cfg2, "127.0.0.1:0")
	if c := counts("127.0.0.2", b.url, 5, func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }); c[201] != 3 || c[429] != 2 {
		t.Fatalf("direct client forging X-Forwarded-For: %v", c)
	}
	if v := metric(t, a, "powchain_rate_limited_total"); v != 4 {
		t.Errorf("powchain_rate_limited_total %v, want 4", v)
	}
}

// TestClientOf: which address a request is counted by.
func TestClientOf(t *testing.T) {
	pr, err := ParseTrustedProxies([]string{"10.0.0.0/8", "::1", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		header, peer string
		values       []string
		want         string
		proxied      bool
	}{
		{"", "203.0.113.9:1234", []string{"198.51.100.1"}, "203.0.113.9", false}, // untrusted peer: header ignored
		{"", "10.1.2.3:80", nil, "10.1.2.3", true},                               // no header: the proxy itself
		{"", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1", true},
		{"", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1", true},             // rightmost untrusted
		{"", "10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1", true},   // skips proxies
		{"", "10.1.2.3:80", []string{"6.6.6.6", "198.51.100.1, 10.9.9.9"}, "198.51.100.1", true}, // several lines
		{"", "10.1.2.3:80", []string{"10.5.5.5, 10.9.9.9"}, "10.5.5.5", true},                    // all trusted: the leftmost
		{"", "10.1.2.3:80", []string{"6.6.6.6, unknown"}, "10.1.2.3", true},                      // unreadable: the proxy
		{"", "10.1.2.3:80", []string{"198.51.100.1:4711"}, "198.51.100.1", true},
		{"", "10.1.2.3:80", []string{"[2001:db8::1]:4711"}, "2001:db8::1", true},
		{"", "[::1]:80", []string{"2001:db8::1"}, "2001:db8::1", true},
		{"", "[::ffff:192.0.2.7]:80", []string{"198.51.100.1"}, "198.51.100.1", true}, // mapped peer
		{"Forwarded", "10.1.2.3:80", []string{`for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=http;by=10.1.2.3`}, "2001:db8:cafe::17", true},
		{"Forwarded", "10.1.2.3:80", []string{`for=198.51.100.1;proto=https, for=10.2.2.2`}, "198.51.100.1", true},
		{"Forwarded", "10.1.2.3:80", []string{`for=_hidden`}, "10.1.2.3", true},
		{"Forwarded", "10.1.2.3:80", []string{`proto="a,b;c";for=198.51.100.1`}, "198.51.100.1", true},
	} {
		p, err := newProxyTrust(pr, c.header)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.values {
			r.Header.Add(p.header, v)
		}
		if c.header == "" {
			r.Header.Add("Forwarded", "for=1.1.1.1") // not the header in use: never read
		}
		got, proxied, ok := p.clientOf(r)
		if !ok || got.String() != c.want || proxied != c.proxied {
			t.Errorf("peer %s %s %q: got %v proxied %v ok %v, want %s proxied %v", c.peer, p.header, c.values, got, proxied, ok, c.want, c.proxied)
		}
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("10.0.0.0/33 was taken")
	}
	if _, err := newProxyTrust(nil, "X-Real-IP"); err == nil {
		t.Error("X-Real-IP was taken as the proxy header")
	}
	if k := clientKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1")); k.String() != "2001:db8:1:2::" {
		t.Errorf("clientKey of an IPv6 address: %v", k)
	}
}

// TestRateTableFlood: a flood of fresh addresses neither grows the rate
// limiter's table nor resets the bucket of a client being limited, and
// a client idle long enough to have its burst back is forgotten.
func TestRateTableFlood(t *testing.T) {
	l := newRateLimiter(1, 2, false)
	now := time.Now()
	bad := netip.MustParseAddr("192.0.2.1")
	for range 2 {
		l.allow(bad, true, now)
	}
	if l.allow(bad, true, now) {
		t.Fatal("the burst was not used up")
	}
	for i := range 3 * maxClients {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 16), byte(i >> 8), byte(i), 1})
		l.allow(clientKey(a), true, now.Add(time.Duration(i)*time.Microsecond))
	}
	if len(l.clients) > maxClients {
		t.Fatalf("the table grew to %d", len(l.clients))
	}
	if l.allow(bad, true, now.Add(100*time.Millisecond)) {
		t.Fatal("the flood gave a limited client its burst back")
	}
	// Three seconds on every bucket is full: the next sweep forgets them all.
	later := now.Add(3 * time.Second)
	if !l.allow(netip.MustParseAddr("198.51.100.1"), true, later) || len(l.clients) != 1 {
		t.Fatalf("after the buckets refilled the table holds %d", len(l.clients))
	}
}

// TestEventsPerClient: one client cannot take every /events stream;
// behind a trusted proxy the client is the one it names, and a direct
// loopback client is exempt.
func TestEventsPerClient(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Events.MaxSubscribers = 16 // 2 per client
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	a := startNode(t, cfg, "127.0.0.1:0")
	proxy := proxyFront(t, a)
	dialFrom(t, "127.0.0.3", a.addr).Close() // skips where 127.0.0.3 cannot be bound

	var open []io.Closer
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	stream := func(src, u string) int {
		t.Helper()
		resp, err := clientFrom(src).Get(u + "events")
		if err != nil {
			t.Fatalf("GET /events from %s: %v", src, err)
		}
		if resp.StatusCode != 200 {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), "maximum of 2 live streams") {
				t.Errorf("refused stream: %q", body)
			}
			return resp.StatusCode
		}
		open = append(open, resp.Body)
		return 200
	}
	for i, want := range []int{200, 200, 429} {
		if got := stream("127.0.0.3", proxy.URL+"/"); got != want {
			t.Fatalf("stream %d from 127.0.0.3 through the proxy: %d, want %d", i+1, got, want)
		}
	}
	if got := stream("127.0.0.4", proxy.URL+"/"); got != 200 {
		t.Fatalf("127.0.0.4 through the proxy: %d", got)
	}
	for i := range 3 {
		if got := stream("127.0.0.3", a.url); got != 200 {
			t.Fatalf("direct loopback stream %d: %d", i+1, got)
		}
	}
}

// proxyFront starts a real reverse proxy on 127.0.0.1 in front of a,
// which appends each client's address to X-Forwarded-For.
func proxyFront(t *testing.T, a *tnode) *httptest.Server {
	t.Helper()
	target, _ := url.Parse(a.url)
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{}
	rp.Transport = tr
	proxy := httptest.NewServer(rp)
	t.Cleanup(func() {
		proxy.Close()
		tr.CloseIdleConnections()
	})
	return proxy
}

// TestProxiedClientCap: behind a trusted proxy the per-client cap applies
// to the clients the proxy names, as requests in flight: a client holding
// its cap of /events streams through the proxy is refused one more
// request with a 503 naming the cap, while another client through the
// same proxy, and the same address connecting directly, are served; when
// one of its streams ends it is served again.
func TestProxiedClientCap(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cfg.Limits.ConnsPerClient = 3 // below the 8 streams a client may hold
	a := startNode(t, cfg, "127.0.0.1:0")
	proxy := proxyFront(t, a)
	dialFrom(t, "127.0.0.3", a.addr).Close() // skips where 127.0.0.3 cannot be bound

	var streams []io.Closer
	defer func() {
		for _, s := range streams {
			s.Close()
		}
	}()
	for i := range 3 {
		resp, err := clientFrom("127.0.0.3").Get(proxy.URL + "/events")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream %d from 127.0.0.3 through the proxy: %v %v", i+1, resp, err)
		}
		streams = append(streams, resp.Body)
	}
	if code, body := getFrom(t, "127.0.0.3", proxy.URL+"/health"); code != 503 || !strings.Contains(body, "Too many requests in flight from 127.0.0.3: at most 3 at once") {
		t.Fatalf("a 4th request from 127.0.0.3 through the proxy: %d %q, want 503 naming the cap", code, body)
	}
	if code, _ := getFrom(t, "127.0.0.4", proxy.URL+"/health"); code != 200 {
		t.Fatalf("127.0.0.4 through the proxy: %d", code)
	}
	if code, _ := getFrom(t, "127.0.0.3", a.url+"health"); code != 200 {
		t.Fatalf("127.0.0.3 directly: %d", code)
	}
	if v := metric(t, a, "powchain_proxied_requests_refused_total"); v != 1 {
		t.Errorf("powchain_proxied_requests_refused_total %v, want 1", v)
	}
	streams[0].Close()
	streams = streams[1:]
	waitFor(t, 10*time.Second, "127.0.0.3 served through the proxy after a stream ended", func() bool {
		code, _ := getFrom(t, "127.0.0.3", proxy.URL+"/health")
		return code == 200
	})
}
