package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
)

// healthLength returns the chain length a node's /health reports, 0 when
// it does not answer.
func healthLength(url string) int {
	resp, err := http.Get(url + "health")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var h struct{ Length int }
	if json.NewDecoder(resp.Body).Decode(&h) != nil {
		return 0
	}
	return h.Length
}

// TestKillDuringSync kills (SIGKILL) a fresh node while it syncs a chain
// of tens of thousands of blocks from a powchain peer, in pages. Restarted
// on its data dir, it starts with at least the blocks it held when it was
// killed and fetches only the rest; its chain ends up the peer's, and
// `powchain verify` passes on its GET /chain.
func TestKillDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, a chain of 30000 blocks, and kills a node")
	}
	bin := buildPowchain(t)
	const blocks = 30000
	peerDir := t.TempDir()
	if out, err := exec.Command(bin, "loadgen", "chain", "--blocks", fmt.Sprint(blocks), "--difficulty", "1", "--out", peerDir).CombinedOutput(); err != nil {
		t.Fatalf("loadgen: %v\n%s", err, out)
	}
	a := startServe(t, bin, "--data", peerDir, "--difficulty", "1", "--sync-interval", "0")
	defer a.kill(t, syscall.SIGTERM)
	// Pages pass through a proxy that slows each one down, so that the
	// kill lands mid-sync on a fast machine too.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/blocks" {
			time.Sleep(30 * time.Millisecond)
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimSuffix(a.url, "/")+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer front.Close()

	data := t.TempDir()
	args := []string{"--data", data, "--difficulty", "1", "--peers", front.URL, "--sync-interval", "1s", "--log-format", "json"}
	b := startServe(t, bin, args...)
	var held int
	deadline := time.Now().Add(2 * time.Minute)
	for held = healthLength(b.url); held < blocks/3; held = healthLength(b.url) {
		if time.Now().After(deadline) {
			t.Fatalf("the node holds %d blocks after 2 minutes\n%s", held, b.log.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	b.kill(t, syscall.SIGKILL)
	if held > blocks {
		t.Fatalf("the sync ended before the kill (%d blocks)", held)
	}

	b = startServe(t, bin, args...)
	restarted := healthLength(b.url)
	if restarted < held {
		t.Fatalf("killed holding %d blocks, restarted with %d", held, restarted)
	}
	deadline = time.Now().Add(2 * time.Minute)
	for healthLength(b.url) < blocks+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted node did not finish the sync\n%s", b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The restarted sync fetched only the blocks after the ones it held.
	var from int
	for _, line := range strings.Split(b.log.String(), "\n") {
		var rec struct {
			Msg  string
			From int
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "sync started" {
			from = rec.From
			break
		}
	}
	if from < held {
		t.Fatalf("the restarted sync started from height %d, the node held %d blocks\n%s", from, held, b.log.String())
	}
	t.Logf("killed at %d of %d blocks, restarted with %d, synced from %d", held, blocks+1, restarted, from)

	_, ours := httpDo(t, "GET", b.url+"chain", "")
	_, theirs := httpDo(t, "GET", a.url+"chain", "")
	do, err := engine.DecodeDump([]byte(ours))
	if err != nil {
		t.Fatal(err)
	}
	dt, err := engine.DecodeDump([]byte(theirs))
	if err != nil {
		t.Fatal(err)
	}
	if len(do.Blocks) != len(dt.Blocks) || do.Blocks[len(do.Blocks)-1].Hash != dt.Blocks[len(dt.Blocks)-1].Hash {
		t.Fatalf("the synced chain has %d blocks, the peer's %d, or their tips differ", len(do.Blocks), len(dt.Blocks))
	}
	file := filepath.Join(t.TempDir(), "chain.json")
	if err := os.WriteFile(file, []byte(ours), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "verify", "--difficulty", "1", file).CombinedOutput(); err != nil {
		t.Fatalf("powchain verify of the synced chain: %v\n%s", err, out)
	}
	b.kill(t, syscall.SIGTERM)
}

// TestServeChainBytes: --chain-bytes bounds the fork a node stages from a
// peer before the fork is longer than its chain: a node whose own block
// is replaced by a 30-block fork refuses it under a 2,000-byte limit,
// logging the limit and keeping its chain, and adopts it with the
// default.
func TestServeChainBytes(t *testing.T) {
	bin := buildPowchain(t)
	ours, theirs := t.TempDir(), t.TempDir()
	for _, c := range []struct {
		dir, author string
		blocks      int
	}{{ours, "ours", 1}, {theirs, "theirs", 30}} {
		if out, err := exec.Command(bin, "loadgen", "chain", "--difficulty", "1", "--blocks", strconv.Itoa(c.blocks), "--author", c.author, "--out", c.dir).CombinedOutput(); err != nil {
			t.Fatalf("loadgen: %v\n%s", err, out)
		}
	}
	peer := startServe(t, bin, "--data", theirs, "--difficulty", "1")
	args := []string{"--data", ours, "--difficulty", "1", "--peers", strings.TrimSuffix(peer.url, "/"), "--sync-interval", "1s"}
	a := startServe(t, bin, append(args, "--chain-bytes", "2000")...)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.log.String(), "is over the limit of 2000 bytes before it is longer than our chain") {
		if time.Now().After(deadline) {
			t.Fatalf("no sync refused for --chain-bytes 2000 in 30 s\n%s", a.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := healthLength(a.url); n != 2 {
		t.Fatalf("the node holds %d blocks after refusing the fork, want its own 2", n)
	}
	a.kill(t, syscall.SIGTERM)
	a = startServe(t, bin, args...)
	deadline = time.Now().Add(30 * time.Second)
	for healthLength(a.url) != 31 {
		if time.Now().After(deadline) {
			t.Fatalf("the node did not adopt the 31-block fork with the default --chain-bytes\n%s", a.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
