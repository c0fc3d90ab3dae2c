package node

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// keepAlive is a raw keep-alive connection that has made requests.
type keepAlive struct {
	net.Conn
	br *bufio.Reader
}

// newKeepAlive dials addr from src and makes one request on it, leaving
// the connection open (idle, for the node).
func newKeepAlive(t testing.TB, src, addr string) *keepAlive {
	t.Helper()
	k := &keepAlive{Conn: dialFrom(t, src, addr)}
	k.br = bufio.NewReader(k.Conn)
	if code := k.get(t); code != 200 {
		t.Fatalf("keep-alive request from %s: %d", src, code)
	}
	return k
}

// get sends GET /health on the connection and returns the status.
func (k *keepAlive) get(t testing.TB) int {
	t.Helper()
	k.SetDeadline(time.Now().Add(10 * time.Second))
	defer k.SetDeadline(time.Time{})
	fmt.Fprintf(k, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("request on a keep-alive connection from %s: %v", k.LocalAddr(), err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatalf("keep-alive request from %s: the node closes the connection", k.LocalAddr())
	}
	return resp.StatusCode
}

// idleConns returns how many connections the node holds as idle.
func idleConns(a *tnode) int {
	a.conns.mu.Lock()
	defer a.conns.mu.Unlock()
	return a.conns.idle.Len()
}

// closedByNode fails the test unless the node closes c within 5 s
// (whatever c still had to read being discarded).
func closedByNode(t testing.TB, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [4096]byte
	for range 1000 {
		_, err := c.Read(buf[:])
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: still open", what)
		}
		if err != nil {
			return
		}
	}
	t.Fatalf("%s: still sending", what)
}

// stillOpen fails the test if the node has closed c: a read must end by
// its short deadline, not by EOF or a reset.
func stillOpen(t testing.TB, c net.Conn, what string) {
	t.Helper()
	var buf [4096]byte
	for range 100 {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(buf[:])
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.SetReadDeadline(time.Time{})
			return
		}
		if err != nil {
			t.Fatalf("%s: closed by the node: %v", what, err)
		}
	}
	t.Fatalf("%s: sends without end", what)
}

// TestIdleEvictedAtTotalCap: with the total cap held by idle keep-alive
// connections from several addresses, a new client from another address
// is served, and exactly the connection idle for the longest was closed.
func TestIdleEvictedAtTotalCap(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.Conns, cfg.Limits.ConnsPerClient = 6, 4
	a := startNode(t, cfg, "127.0.0.1:0")
	dialFrom(t, "127.0.0.3", a.addr).Close() // skips where 127.0.0.3 cannot be bound
	waitFor(t, 10*time.Second, "the probe released", func() bool { return a.conns.openConns() == 0 })

	var ka []*keepAlive
	defer func() {
		for _, k := range ka {
			k.Close()
		}
	}()
	for i := range 6 {
		ka = append(ka, newKeepAlive(t, []string{"127.0.0.2", "127.0.0.3"}[i%2], a.addr))
		waitFor(t, 10*time.Second, "the connection idle", func() bool { return idleConns(a) == i+1 })
	}
	if n := a.conns.openConns(); n != 6 {
		t.Fatalf("%d connections open, want 6", n)
	}
	if code, body := getFrom(t, "127.0.0.4", a.url+"health"); code != 200 {
		t.Fatalf("a new client while idle connections hold the cap: %d %q", code, body)
	}
	closedByNode(t, ka[0], "the connection idle for the longest")
	for i, k := range ka[1:] {
		if code := k.get(t); code != 200 {
			t.Fatalf("idle connection %d after the eviction: %d", i+2, code)
		}
	}
	if v := metric(t, a, `powchain_connections_evicted_total{cap="total"}`); v != 1 {
		t.Errorf("evictions at the total cap counted %v, want 1", v)
	}
	if v := metric(t, a, `powchain_connections_refused_total{cap="total"}`); v != 0 {
		t.Errorf("refusals at the total cap counted %v, want 0", v)
	}
}

// TestIdleEvictedAtClientCap: a client address holding its cap with idle
// keep-alive connections is served on a new one, its own connection idle
// for the longest being closed.
func TestIdleEvictedAtClientCap(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.Conns, cfg.Limits.ConnsPerClient = 100, 3
	a := startNode(t, cfg, "127.0.0.1:0")
	other := newKeepAlive(t, "127.0.0.3", a.addr) // idle for the longest, but another client's
	defer other.Close()
	waitFor(t, 10*time.Second, "the connection idle", func() bool { return idleConns(a) == 1 })
	var ka []*keepAlive
	defer func() {
		for _, k := range ka {
			k.Close()
		}
	}()
	for i := range 3 {
		ka = append(ka, newKeepAlive(t, "127.0.0.2", a.addr))
		waitFor(t, 10*time.Second, "the connection idle", func() bool { return idleConns(a) == i+2 })
	}
	if code, body := getFrom(t, "127.0.0.2", a.url+"health"); code != 200 {
		t.Fatalf("a client at its cap of idle connections: %d %q", code, body)
	}
	closedByNode(t, ka[0], "the client's connection idle for the longest")
	for i, k := range append(ka[1:], other) {
		if code := k.get(t); code != 200 {
			t.Fatalf("idle connection %d after the eviction: %d", i+1, code)
		}
	}
	if v := metric(t, a, `powchain_connections_evicted_total{cap="per_client"}`); v != 1 {
		t.Errorf("evictions at the per-client cap counted %v, want 1", v)
	}
}

// TestBusyConnsNotEvicted: a connection sending a request body, one
// holding a /events stream and one that has sent nothing yet are never
// closed to make room: the idle one goes, and with every slot busy a new
// client is refused as before.
func TestBusyConnsNotEvicted(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Limits.Conns, cfg.Limits.ConnsPerClient = 4, 8
	a := startNode(t, cfg, "127.0.0.1:0")
	dialFrom(t, "127.0.0.3", a.addr).Close() // skips where 127.0.0.3 cannot be bound
	waitFor(t, 10*time.Second, "the probe released", func() bool { return a.conns.openConns() == 0 })

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	slowBody := func() net.Conn { // a request whose body comes slowly
		c := dialFrom(t, "127.0.0.2", a.addr)
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /new_transaction HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"sender\":")
		return c
	}
	body1 := slowBody()
	events := dialFrom(t, "127.0.0.3", a.addr)
	conns = append(conns, events)
	fmt.Fprintf(events, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	events.SetReadDeadline(time.Now().Add(10 * time.Second))
	if status, err := bufio.NewReader(events).ReadString('\n'); err != nil || !strings.Contains(status, "200") {
		t.Fatalf("GET /events: %q %v", status, err)
	}
	silent := dialFrom(t, "127.0.0.3", a.addr) // new: no request yet
	conns = append(conns, silent)
	waitFor(t, 10*time.Second, "3 connections counted", func() bool { return a.conns.openConns() == 3 })
	idle := newKeepAlive(t, "127.0.0.2", a.addr)
	conns = append(conns, idle)
	waitFor(t, 10*time.Second, "the connection idle", func() bool { return idleConns(a) == 1 })

	if code, body := getFrom(t, "127.0.0.4", a.url+"health"); code != 200 {
		t.Fatalf("a new client while one connection is idle: %d %q", code, body)
	}
	closedByNode(t, idle, "the idle connection")
	waitFor(t, 10*time.Second, "the new client's connection released", func() bool { return a.conns.openConns() == 3 })

	body2 := slowBody()
	waitFor(t, 10*time.Second, "4 connections counted", func() bool { return a.conns.openConns() == 4 })
	if code, body := getFrom(t, "127.0.0.4", a.url+"health"); code != 503 || !strings.Contains(body, "maximum of 4 open") {
		t.Fatalf("a new client with every slot busy: %d %q", code, body)
	}
	stillOpen(t, body1, "a request sending its body")
	stillOpen(t, body2, "a request sending its body")
	stillOpen(t, events, "a /events stream")
	stillOpen(t, silent, "a connection that has sent nothing yet")
	// Every slot is busy: GET /metrics would be refused too.
	if v := a.conns.evictedTotal.Load(); v != 1 {
		t.Errorf("evictions at the total cap counted %v, want 1", v)
	}
	if v := a.conns.refusedTotal.Load(); v != 1 {
		t.Errorf("refusals at the total cap counted %v, want 1", v)
	}
}
