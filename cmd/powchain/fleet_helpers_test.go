package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/fleet"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/internal/testvectors"
)

// child is a process a fleet test starts: a worker, a coordinator or a
// nats-server. It is killed when the test ends.
type child struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

func startChild(t testing.TB, name, bin string, args ...string) *child {
	t.Helper()
	c := &child{name: name, cmd: exec.Command(bin, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGCONT)
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", c.name, c.stderr.String())
		}
	})
	return c
}

func (c *child) signal(sig syscall.Signal) { c.cmd.Process.Signal(sig) }

// wait waits at most d for the process to exit and returns its exit code.
func (c *child) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s did not exit within %v\nstderr:\n%s", c.name, d, c.stderr.String())
		return -1
	}
}

// startWorkerProc starts `powchain worker` with one mining goroutine.
func startWorkerProc(t testing.TB, bin, url, name string) *child {
	return startChild(t, "worker "+name, bin, "worker", "--nats", url, "--workers", "1", "--name", name, "--progress", "never")
}

// startSlowWorkerProc starts a worker on the pure Go kernel, so that
// faultJob lasts seconds whatever kernels this CPU has and a fault made
// after the worker's first range lands mid-job even on a loaded machine
// (with avx512 the job took 0.2 s, and under load it once ended before the
// test got to kill a worker).
func startSlowWorkerProc(t testing.TB, bin, url, name string) *child {
	return startChild(t, "worker "+name, bin, "worker", "--nats", url, "--workers", "1", "--name", name,
		"--hasher", "generic", "--progress", "never")
}

// freePorts returns n different loopback ports that were free a moment
// ago. The listeners are all held until the last port is chosen, so the
// kernel cannot hand out the same port twice (it did: a cluster test got
// one port as a server's client port and another's route port).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// embeddedNATS starts a NATS server in the test process, on loopback.
func embeddedNATS(t testing.TB) string {
	t.Helper()
	s, err := fleet.StartServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return "nats://" + s.Addr()
}

// natsServerBin finds Debian's nats-server, or skips the test.
func natsServerBin(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("nats-server is not installed (apt-get install nats-server); skipping the cluster test")
	return ""
}

// natsCluster starts n nats-server processes joined by routes on loopback
// and returns their client URLs and processes once a message crosses from
// the first to the last.
func natsCluster(t testing.TB, n int) ([]string, []*child) {
	t.Helper()
	bin := natsServerBin(t)
	all := freePorts(t, 2*n)
	ports, cports := all[:n], all[n:]
	var routes []string
	for i := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", cports[i]))
	}
	urls := make([]string, n)
	procs := make([]*child, n)
	for i := range ports {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
		procs[i] = startChild(t, fmt.Sprintf("nats-server %d", i), bin, "-a", "127.0.0.1", "-p", strconv.Itoa(ports[i]),
			"--cluster_name", "powchain-test", "--cluster", routes[i], "--routes", strings.Join(routes, ","))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if clusterWorks(urls[0], urls[n-1]) {
			return urls, procs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %d nats-server processes did not form a cluster within 30s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func clusterWorks(a, b string) bool {
	na, err := nats.Connect(a, nats.Timeout(time.Second))
	if err != nil {
		return false
	}
	defer na.Close()
	nb, err := nats.Connect(b, nats.Timeout(time.Second))
	if err != nil {
		return false
	}
	defer nb.Close()
	sub, err := na.SubscribeSync("probe")
	if err != nil || na.Flush() != nil {
		return false
	}
	time.Sleep(50 * time.Millisecond) // the interest crosses the route
	nb.Publish("probe", []byte("x"))
	nb.Flush()
	_, err = sub.NextMsg(500 * time.Millisecond)
	return err == nil
}

// testCoordinator starts a coordinator in the test process on url, with
// small ranges and short leases.
func testCoordinator(t testing.TB, url string, opt fleet.Options) *fleet.Coordinator {
	t.Helper()
	nc, err := fleet.Connect(context.Background(), fleet.ConnectOptions{URLs: url, Name: "test coordinator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := fleet.NewCoordinator(nc, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitConnected waits until the coordinator has heard from n workers.
func waitConnected(t testing.TB, c *fleet.Coordinator, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.Connected() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d workers connected after 30s: %+v", c.Connected(), n, c.Workers())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workerInfo returns the coordinator's view of the worker called name.
func workerInfo(c *fleet.Coordinator, name string) fleet.WorkerInfo {
	for _, w := range c.Workers() {
		if w.Name == name {
			return w
		}
	}
	return fleet.WorkerInfo{}
}

// fleetRow is a mining.jsonl row ready to mine.
type fleetRow struct {
	name   string
	tpl    *hasher.Template
	target hasher.Target
	nonce  uint64
}

func fleetRows(t testing.TB) []fleetRow {
	var out []fleetRow
	for _, r := range testvectors.Rows(t, "mining.jsonl") {
		obj := fmt.Sprintf(`{"index": %s, "transactions": %s, "timestamp": %s, "previous_hash": %s}`,
			r["index"], r["transactions"], r["timestamp"], r["previous_hash"])
		b, err := engine.DecodeBlock([]byte(obj), engine.BlockOptions{NoNonce: true})
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := b.Template()
		if err != nil {
			t.Fatal(err)
		}
		target, err := engine.Difficulty(int(testvectors.Int(t, r["difficulty"])))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fleetRow{testvectors.String(t, r["name"]), tpl, target, uint64(testvectors.Int(t, r["nonce"]))})
	}
	return out
}

// longJob is a block whose mining lasts long enough for a fault in the
// middle: its JSON, its difficulty in bits, the template and what
// `powchain mine` prints for it on one machine.
type longJob struct {
	block  string
	bits   int
	tpl    *hasher.Template
	target hasher.Target
	nonce  uint64
	out    string
}

var (
	longOnce sync.Once
	long     longJob
	longErr  error
)

// faultJob finds, once per test binary, a block whose lowest nonce at 22
// bits is at least 4M (so two workers take seconds on it) by mining
// candidates with `powchain mine` on this machine.
func faultJob(t *testing.T, bin string) longJob {
	t.Helper()
	longOnce.Do(func() {
		const bits = 22
		block, nonce, out, err := mineCandidate(bin, bits,
			`{"index": %d, "transactions": [{"author": "fleet", "content": "a fault in the middle", "timestamp": 1700000000.5}], "timestamp": 1700000001.25, "previous_hash": "%064x"}`,
			4<<20, math.MaxUint64, 12)
		if err != nil {
			longErr = err
			return
		}
		b, err := engine.DecodeBlock([]byte(block), engine.BlockOptions{NoNonce: true})
		if err != nil {
			longErr = err
			return
		}
		tpl, err := b.Template()
		if err != nil {
			longErr = err
			return
		}
		target, _ := hasher.TargetBits(bits)
		long = longJob{block: block, bits: bits, tpl: tpl, target: target, nonce: nonce, out: string(out)}
	})
	if longErr != nil {
		t.Fatal(longErr)
	}
	return long
}

// mineCandidate mines, with `powchain mine` on two workers, the blocks that
// format (with %d for the index and %064x for the previous hash) makes for
// indexes 1, 2, ..., tries at bits leading zero bits until one's lowest
// nonce is in [lo, hi), and returns that block, its nonce and what mine
// printed.
func mineCandidate(bin string, bits int, format string, lo, hi uint64, tries int) (string, uint64, []byte, error) {
	for i := 1; i <= tries; i++ {
		block := fmt.Sprintf(format, i, i)
		cmd := exec.Command(bin, "mine", "--bits", strconv.Itoa(bits), "--workers", "2")
		cmd.Stdin = strings.NewReader(block)
		out, err := cmd.Output()
		if err != nil {
			return "", 0, nil, fmt.Errorf("mine %s: %v", block, err)
		}
		var got struct{ Nonce uint64 }
		if err := json.Unmarshal(out, &got); err != nil {
			return "", 0, nil, err
		}
		if got.Nonce >= lo && got.Nonce < hi {
			return block, got.Nonce, out, nil
		}
	}
	return "", 0, nil, fmt.Errorf("none of %d candidate blocks has its nonce in [%d, %d)", tries, lo, hi)
}

// faultOptions: ranges of about 200 ms and leases of a second, so that
// faults resolve within seconds.
func faultOptions() fleet.Options {
	return fleet.Options{RangeTime: 200 * time.Millisecond, InitialRange: 1 << 16, Lease: time.Second}
}

// notOverYet fails the test when the job behind ch has ended already: a
// fault made now would not be mid-job, and what the test checks next
// would say nothing.
func notOverYet(t *testing.T, ch <-chan mineResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("the job ended (%+v, %v) before the fault; it is too short for this machine", r.res, r.err)
	default:
	}
}

// mineAsync starts c.Mine and returns where its result arrives.
func mineAsync(c *fleet.Coordinator, tpl *hasher.Template, target hasher.Target) <-chan mineResult {
	ch := make(chan mineResult, 1)
	go func() {
		res, err := c.Mine(context.Background(), tpl, target)
		ch <- mineResult{res, err}
	}()
	return ch
}

type mineResult struct {
	res engine.Result
	err error
}

// await waits for a fleet mining result (at most two minutes: nothing may
// hang) and checks it is the nonce the one-machine miner found.
func await(t *testing.T, ch <-chan mineResult, want uint64) {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("fleet mining failed: %v", r.err)
		}
		if r.res.Nonce != want {
			t.Fatalf("fleet nonce %d, one machine's %d", r.res.Nonce, want)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("fleet mining did not finish within 2 minutes")
	}
}

// waitRanges waits until the named worker has answered n ranges.
func waitRanges(t *testing.T, c *fleet.Coordinator, name string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for workerInfo(c, name).Ranges < n {
		if time.Now().After(deadline) {
			t.Fatalf("worker %s answered fewer than %d ranges in 60s: %+v", name, n, c.Workers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// buildBin builds the powchain binary into a temporary directory.
func buildBin(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "powchain")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
