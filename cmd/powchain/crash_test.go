package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// buildPowchain builds the powchain binary into a temporary directory.
func buildPowchain(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "powchain")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a `powchain serve` child process.
type process struct {
	cmd  *exec.Cmd
	url  string
	log  *syncBuffer
	done chan error
}

// startServe starts `powchain serve` on a free loopback port and waits
// until it listens.
func startServe(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.log, line)
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		io.Copy(io.Discard, stderr)
		p.done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a + "/"
	case err := <-p.done:
		t.Fatalf("serve exited before listening: %v\n%s", err, p.log.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not listen in 20s\n%s", p.log.String())
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// kill sends sig and waits for the process to exit.
func (p *process) kill(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return err
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("serve did not exit on %v\n%s", sig, p.log.String())
		return nil
	}
}

// TestCrashRecovery streams transactions at an auto-mining node and kills
// it with SIGKILL at random moments. After each restart on the same data
// dir every transaction that got a 201 is in the chain or the pool (once),
// the chain validates, and the node serves again.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it several times")
	}
	bin := buildPowchain(t)
	data := t.TempDir()
	args := []string{"--data", data, "--difficulty", "2", "--auto-mine", "--workers", "1", "--sync-interval", "0"}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	target, _ := engine.Difficulty(2)

	acked := map[string]bool{}
	var mu sync.Mutex
	p := startServe(t, bin, args...)
	const rounds = 5
	for round := range rounds {
		// Stream transactions from 8 clients until the kill.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		tr := &http.Transport{MaxIdleConnsPerHost: 8}
		hc := &http.Client{Timeout: 5 * time.Second, Transport: tr}
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					c := fmt.Sprintf("round %d client %d tx %d", round, w, i)
					resp, err := hc.Post(p.url+"new_transaction", "application/json",
						strings.NewReader(fmt.Sprintf(`{"author": "crash test", "content": %q}`, c)))
					if err != nil {
						return // the node is gone
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusCreated {
						mu.Lock()
						acked[c] = true
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(50+rng.IntN(750)) * time.Millisecond)
		p.kill(t, syscall.SIGKILL)
		close(stop)
		wg.Wait()
		tr.CloseIdleConnections()

		p = startServe(t, bin, args...)
		// The node mines as we read: read the pool first, then the chain,
		// so a transaction that moves from one to the other is still seen.
		_, pend := httpDo(t, "GET", p.url+"pending_tx", "")
		pv, err := pyjson.Decode([]byte(pend))
		if err != nil {
			t.Fatal(err)
		}
		code, body := httpDo(t, "GET", p.url+"chain", "")
		if code != 200 {
			t.Fatalf("round %d: /chain after restart: %d", round, code)
		}
		dump, err := engine.DecodeDump([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := engine.ValidateChain(dump.Blocks, target); err != nil {
			t.Fatalf("round %d: the chain after a kill -9 is invalid: %v", round, err)
		}
		inChain, inPool := map[string]int{}, map[string]int{}
		for _, b := range dump.Blocks {
			for _, tx := range b.Transactions {
				inChain[tx.(pyjson.Object)["content"].(string)]++
			}
		}
		for _, tx := range pv.([]pyjson.Value) {
			inPool[tx.(pyjson.Object)["content"].(string)]++
		}
		for what, m := range map[string]map[string]int{"the chain": inChain, "the pool": inPool} {
			for c, k := range m {
				if k > 1 {
					t.Errorf("round %d: %q is %d times in %s", round, c, k, what)
				}
			}
		}
		mu.Lock()
		missing := 0
		for c := range acked {
			if inChain[c]+inPool[c] == 0 {
				missing++
				t.Errorf("round %d: acknowledged %q is neither in the chain nor pending", round, c)
			}
		}
		t.Logf("round %d: %d acknowledged so far, chain of %d blocks, %d pending, %d missing",
			round, len(acked), len(dump.Blocks), len(pv.([]pyjson.Value)), missing)
		mu.Unlock()
		if t.Failed() {
			t.Fatalf("log of the restarted node:\n%s", p.log.String())
		}
	}
	if len(acked) == 0 {
		t.Fatal("no transaction was acknowledged")
	}

	// A clean shutdown on SIGTERM exits 0 and leaves a store export reads.
	if code, _ := httpDo(t, "GET", p.url+"health", ""); code != 200 {
		t.Fatalf("/health: %d", code)
	}
	if err := p.kill(t, syscall.SIGTERM); err != nil {
		t.Fatalf("serve on SIGTERM: %v\n%s", err, p.log.String())
	}
	out, errs, code := powchain(t, "", "export", "--data", data)
	if code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	d, err := engine.DecodeDump([]byte(out))
	if err != nil || engine.ValidateChain(d.Blocks, target) != nil {
		t.Fatalf("export after the crashes: %v", err)
	}
	os.Stderr.Sync()
}
