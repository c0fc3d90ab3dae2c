package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// getFrom sends GET url from the loopback address src (Linux routes all
// of 127.0.0.0/8 to lo) and returns the status and body.
func getFrom(t *testing.T, src, url string) (int, string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, src, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// promSample returns a sample's value in a Prometheus text answer, -1
// when it is missing.
func promSample(text, sample string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// connScale skips a test that opens about n connections to a serve
// process where it cannot (-short, no /proc to read the node's memory, too
// few open files), and returns the binary.
func connScale(t *testing.T, n int) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("builds the binary and opens %d connections", 2*n)
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the node's memory")
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil || lim.Cur < uint64(n)+500 {
		t.Skipf("needs %d open files, the limit is %d", n+500, lim.Cur)
	}
	return sharedBinary(t)
}

// connLoad is what a serve process showed under a load of connections.
type connLoad struct {
	rss, hwm int64  // growth of its resident memory over the idle node, now and at its peak
	metrics  string // its /metrics, read from 127.0.0.2 under the load
}

// underConns starts serve with args, opens n connections to it with dial
// (i, the node's address; it returns the connection to hold, or nil for
// one the node refused), waits 1.5 s for the node to settle (refusals
// being answered, evicted connections' goroutines ending) and measures it.
func underConns(t *testing.T, bin string, n int, limit time.Duration, dial func(i int, addr string) net.Conn, args ...string) connLoad {
	t.Helper()
	p := startServe(t, bin, append([]string{"--data", t.TempDir(), "--difficulty", "2", "--workers", "1", "--sync-interval", "0"}, args...)...)
	defer p.kill(t, syscall.SIGTERM)
	pid := p.cmd.Process.Pid
	addr := strings.TrimSuffix(strings.TrimPrefix(p.url, "http://"), "/")
	getFrom(t, "127.0.0.1", p.url+"health")
	os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
	rss0, hwm0 := readStatus(pid, "VmRSS"), readStatus(pid, "VmHWM")

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	deadline := time.Now().Add(limit)
	for i := range n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections took over %v", i, n, limit)
		}
		if c := dial(i, addr); c != nil {
			held = append(held, c)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	r := connLoad{rss: readStatus(pid, "VmRSS") - rss0, hwm: readStatus(pid, "VmHWM") - hwm0}
	code, metrics := getFrom(t, "127.0.0.2", p.url+"metrics")
	if code != 200 {
		t.Fatalf("/metrics from 127.0.0.2 under %d connections: %d %q", n, code, metrics)
	}
	r.metrics = metrics
	return r
}

// TestServeIdleConnections opens 5,000 idle connections from 127.0.0.1
// to a real serve process, once with the connection caps off and once
// with the defaults, and compares the process's resident memory and
// goroutines: without caps each connection costs a goroutine and its
// buffers; with them the node holds 64 and refuses the rest, and a
// client from 127.0.0.2 is served meanwhile.
func TestServeIdleConnections(t *testing.T) {
	const conns = 5000
	bin := connScale(t, conns)
	dial := func(_ int, addr string) net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return nil // refused and reset at once
		}
		return c
	}
	off := underConns(t, bin, conns, 30*time.Second, dial, "--max-conns", "0", "--max-conns-per-client", "0")
	on := underConns(t, bin, conns, 30*time.Second, dial)
	offG, onG := promSample(off.metrics, "go_goroutines"), promSample(on.metrics, "go_goroutines")
	refused := promSample(on.metrics, `powchain_connections_refused_total{cap="per_client"}`)
	t.Logf("%d idle connections from 127.0.0.1: caps off: +%d MB RSS (+%d MB peak), %v goroutines; default caps: +%d MB RSS (+%d MB peak), %v goroutines, %v refused",
		conns, off.rss>>20, off.hwm>>20, offG, on.rss>>20, on.hwm>>20, onG, refused)
	if offG < conns {
		t.Fatalf("without caps %d connections left only %v goroutines: the test measures nothing", conns, offG)
	}
	if onG > 64+100 {
		t.Errorf("with the default caps the node runs %v goroutines", onG)
	}
	if refused < conns-64-100 {
		t.Errorf("%v refusals counted, want about %d", refused, conns-64)
	}
	if on.hwm > off.hwm/4 {
		t.Errorf("peak RSS grew %d MB with the caps, %d MB without: not bounded", on.hwm>>20, off.hwm>>20)
	}
}

// TestServeKeepAliveConnections opens 8,000 connections to a real serve
// process from 200 loopback addresses (127.0.1.1 to 127.0.1.200, 40
// each, under the per-client cap), each making one GET /health and then
// waiting in keep-alive, once with the caps off and once with the
// defaults. Every request must be answered 200: past the total cap of
// 4,096 a newcomer makes room by closing the connection idle the longest,
// so idle keep-alive connections do not lock anyone out, and the node
// holds no more than the cap. It logs the process's resident memory
// growth, the figure in the README.
func TestServeKeepAliveConnections(t *testing.T) {
	const (
		conns   = 8000
		clients = 200
		maxOpen = 4096 // node.DefaultMaxConns
	)
	bin := connScale(t, conns)
	dial := func(i int, addr string) net.Conn {
		src := fmt.Sprintf("127.0.1.%d", 1+i%clients)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d from %s: %v", i, src, err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("request %d from %s: %v", i, src, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			c.Close()
			t.Fatalf("request %d from %s: %d (closing: %v), want 200 on a kept-alive connection", i, src, resp.StatusCode, resp.Close)
		}
		return c
	}
	off := underConns(t, bin, conns, 2*time.Minute, dial, "--max-conns", "0", "--max-conns-per-client", "0")
	on := underConns(t, bin, conns, 2*time.Minute, dial)
	offG, onG := promSample(off.metrics, "go_goroutines"), promSample(on.metrics, "go_goroutines")
	offOpen, onOpen := promSample(off.metrics, "powchain_connections_open"), promSample(on.metrics, "powchain_connections_open")
	evicted := promSample(on.metrics, `powchain_connections_evicted_total{cap="total"}`)
	t.Logf("%d keep-alive connections from %d addresses: caps off: +%d MB RSS (+%d MB peak), %v goroutines, %v open; default caps: +%d MB RSS (+%d MB peak), %v goroutines, %v open, %v evicted",
		conns, clients, off.rss>>20, off.hwm>>20, offG, offOpen, on.rss>>20, on.hwm>>20, onG, onOpen, evicted)
	if offG < conns {
		t.Fatalf("without caps %d keep-alive connections left only %v goroutines: the test measures nothing", conns, offG)
	}
	if onOpen > maxOpen {
		t.Errorf("with the default caps %v connections are open, over %d", onOpen, maxOpen)
	}
	if onG > maxOpen+100 {
		t.Errorf("with the default caps the node runs %v goroutines", onG)
	}
	// Each connection past the cap closed one idle one (the /metrics
	// request's own connection may have closed one more).
	if evicted < conns-maxOpen || evicted > conns+2-maxOpen {
		t.Errorf("%v idle connections evicted, want %d", evicted, conns+1-maxOpen)
	}
}
