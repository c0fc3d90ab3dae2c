package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/engine/pyjson"
)

// sseEvent is one event read from a stream.
type sseEvent struct {
	name, data string
}

// stream is a client of GET /events.
type stream struct {
	resp   *http.Response
	events chan sseEvent
	keeps  chan struct{} // a keep-alive comment arrived
	cancel context.CancelFunc
}

// openStream opens GET /events and reads its events in the background.
func openStream(t *testing.T, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"events", nil)
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{resp: resp, events: make(chan sseEvent, 1024), keeps: make(chan struct{}, 1024), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		return s
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("GET /events: Content-Type %q", ct)
	}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				select {
				case s.keeps <- struct{}{}:
				default:
				}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event named name, skipping others, within 5 s.
func (s *stream) next(t *testing.T, name string) map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("the stream ended while waiting for %q", name)
			}
			if ev.name != name {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
				t.Fatalf("event %s: data %q: %v", name, ev.data, err)
			}
			return m
		case <-deadline:
			t.Fatalf("no %q event in 5 s", name)
		}
	}
}

// TestEventsStream follows a node through its stream: the hello event,
// a transaction, a mined block, a peer, and the status every second.
func TestEventsStream(t *testing.T) {
	a := startNode(t, testConfig(t, ""), "")
	b := startNode(t, testConfig(t, ""), "")
	s := openStream(t, a.url)
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events: %d", s.resp.StatusCode)
	}
	hello := s.next(t, "hello")
	if hello["length"] != 1.0 || hello["hasher"] == "" || hello["cpu"] == nil {
		t.Fatalf("hello = %v", hello)
	}

	a.postTx(t, "alice", "über <b>")
	tx := s.next(t, "tx")
	v, err := pyjson.Decode([]byte(tx["tx"].(string)))
	if err != nil {
		t.Fatalf("the tx event's transaction: %v", err)
	}
	if o := v.(pyjson.Object); o["content"] != "über <b>" || o["author"] != "alice" {
		t.Fatalf("tx event: %v", o)
	}

	want(t, "GET", a.url+"mine", "", http.StatusOK, "Block #1 is mined.")
	blk := s.next(t, "block")
	got := a.Blocks()[1]
	if blk["index"] != 1.0 || blk["hash"] != got.Hash || blk["nonce"] != float64(got.Nonce) || blk["txs"] != 1.0 || blk["length"] != 2.0 {
		t.Fatalf("block event %v, the block is %d %s nonce %d", blk, got.Index, got.Hash, got.Nonce)
	}
	if ts, ok := blk["timestamp"].(float64); !ok || ts <= 0 {
		t.Fatalf("block event timestamp %v", blk["timestamp"])
	}

	want(t, "POST", a.url+"register_with", fmt.Sprintf(`{"node_address": %q}`, b.url), http.StatusOK, "")
	peers := s.next(t, "peers")
	if added, _ := peers["added"].([]any); len(added) != 1 || added[0] != b.url || peers["peers"] != 1.0 {
		t.Fatalf("peers event %v, want %s added", peers, b.url)
	}

	st := s.next(t, "status")
	if st["length"] != 2.0 || st["tip"] != got.Hash || st["peers"] != 1.0 {
		t.Fatalf("status event %v", st)
	}

	want(t, "DELETE", a.url+"peers/"+url.PathEscape(b.url), "", http.StatusOK, "")
	peers = s.next(t, "peers")
	if removed, _ := peers["removed"].([]any); len(removed) != 1 || removed[0] != b.url || peers["peers"] != 0.0 {
		t.Fatalf("peers event %v, want %s removed", peers, b.url)
	}
}

// TestEventsMaxSubscribers: the stream count is bounded; one over the
// bound is answered 503 with a message, and a place freed is reusable.
func TestEventsMaxSubscribers(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Events.MaxSubscribers = 2
	n := startNode(t, cfg, "")
	s1 := openStream(t, n.url)
	s2 := openStream(t, n.url)
	for _, s := range []*stream{s1, s2} {
		if s.resp.StatusCode != http.StatusOK {
			t.Fatalf("stream within the bound: %d", s.resp.StatusCode)
		}
		s.next(t, "hello")
	}
	code, body, _ := call(t, "GET", n.url+"events", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "maximum of 2 subscribers") {
		t.Fatalf("third stream: %d %q, want 503 naming the bound", code, body)
	}
	s1.close()
	waitFor(t, 5*time.Second, "the closed stream to unsubscribe", func() bool { return n.events.count() == 1 })
	s3 := openStream(t, n.url)
	if s3.resp.StatusCode != http.StatusOK {
		t.Fatalf("stream after one closed: %d", s3.resp.StatusCode)
	}
	s3.next(t, "hello")
}

// TestEventsKeepAlive: an idle stream gets comment lines.
func TestEventsKeepAlive(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Events.KeepAlive = 50 * time.Millisecond
	n := startNode(t, cfg, "")
	s := openStream(t, n.url)
	s.next(t, "hello")
	for range 3 {
		select {
		case <-s.keeps:
		case <-time.After(5 * time.Second):
			t.Fatal("no keep-alive in 5 s")
		}
	}
}

// TestEventsSlowClient: a client that stops reading is dropped once its
// buffer is full, while a client that reads keeps every event; the
// node's memory for the slow one stays bounded by the buffer.
func TestEventsSlowClient(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Events.Buffer = 4
	cfg.Events.WriteTimeout = 500 * time.Millisecond
	n := startNode(t, cfg, "")

	// The slow client: a raw connection with a small receive buffer that
	// reads the headers and then nothing.
	conn, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: %s\r\n\r\n", n.addr)
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("slow client: %q %v", status, err)
	}
	fast := openStream(t, n.url)
	fast.next(t, "hello")
	waitFor(t, 5*time.Second, "two subscribers", func() bool { return n.events.count() == 2 })

	// Publish 64 KiB events in step with the fast client until the slow
	// one is dropped.
	big := strings.Repeat("x", 64<<10)
	sent := 0
	for sent = 0; n.events.count() == 2 && sent < 2000; sent++ {
		n.events.publish("tx", map[string]string{"tx": big})
		fast.next(t, "tx")
	}
	if n.events.count() != 1 {
		t.Fatalf("after %d events of 64 KiB the slow client is still subscribed", sent)
	}
	t.Logf("the slow client was dropped after %d events of 64 KiB", sent)
	// The fast client is still there and still gets events.
	n.events.publish("tx", map[string]string{"tx": "after"})
	if got := fast.next(t, "tx"); got["tx"] != "after" {
		t.Fatalf("the fast client got %v", got)
	}
	// The slow client's handler has returned: its write timed out.
	waitFor(t, 5*time.Second, "the slow client's handler to return", func() bool { return n.events.streams.Load() == 1 })
}

// TestDashboardServed: with Config.UI the page and its files come with a
// strict CSP; without it, / is not served but /events is.
func TestDashboardServed(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.UI = true
	on := startNode(t, cfg, "")
	for _, p := range []string{"", "ui/app.css", "ui/js/main.js"} {
		resp, err := client.Get(on.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != http.StatusOK || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET /%s: %d, CSP %q", p, resp.StatusCode, csp)
		}
	}
	want(t, "GET", on.url+"ui/nothing.js", "", http.StatusNotFound, "")
	want(t, "GET", on.url+"ui/index.html", "", http.StatusNotFound, "")

	off := startNode(t, testConfig(t, ""), "")
	want(t, "GET", off.url, "", http.StatusNotFound, "")
	s := openStream(t, off.url)
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events without the UI: %d", s.resp.StatusCode)
	}
	s.next(t, "hello")
}
