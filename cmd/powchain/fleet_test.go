package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powchain/powchain/fleet"
)

// TestFleetVectors mines mining.jsonl rows with 1, 2 and 3 `powchain
// worker` processes, over an embedded NATS server and over a cluster of 3
// nats-server processes, and checks every nonce against the seed loop's
// (the vectors'). Under -short every fourth row.
func TestFleetVectors(t *testing.T) {
	bin := buildPowchain(t)
	rows := fleetRows(t)
	if testing.Short() {
		var some []fleetRow
		for i := 0; i < len(rows); i += 4 {
			some = append(some, rows[i])
		}
		rows = some
	}
	opt := fleet.Options{InitialRange: 1024, MinRange: 256, MaxRange: 4096, RangeTime: 20 * time.Millisecond, Lease: 2 * time.Second}
	run := func(t *testing.T, coordURL string, workerURLs []string) {
		c := testCoordinator(t, coordURL, opt)
		for k := 1; k <= 3; k++ {
			name := fmt.Sprintf("w%d", k)
			startWorkerProc(t, bin, workerURLs[(k-1)%len(workerURLs)], name)
			waitConnected(t, c, k)
			for _, r := range rows {
				await(t, mineAsync(c, r.tpl, r.target), r.nonce)
			}
		}
		for _, w := range c.Workers() {
			if w.Ranges == 0 {
				t.Errorf("worker %s answered no range: %+v", w.Name, c.Workers())
			}
		}
		if st := c.Stats(); st.Refused != 0 || st.Garbage != 0 {
			t.Errorf("honest workers: %+v", st)
		}
	}
	t.Run("embedded", func(t *testing.T) {
		url := embeddedNATS(t)
		run(t, url, []string{url})
	})
	t.Run("cluster", func(t *testing.T) {
		urls, _ := natsCluster(t, 3)
		// The coordinator on one server, the workers on the others.
		run(t, urls[0], urls[1:])
	})
}

// TestFleetFaults breaks a fleet in the middle of a job in each way a
// fleet breaks; each time the result is still the lowest nonce, the one
// `powchain mine` finds on one machine, and nothing hangs.
func TestFleetFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault scenarios run without -short")
	}
	bin := buildPowchain(t)
	job := faultJob(t, bin)

	t.Run("kill -9 a worker", func(t *testing.T) {
		url := embeddedNATS(t)
		c := testCoordinator(t, url, faultOptions())
		a := startSlowWorkerProc(t, bin, url, "a")
		startSlowWorkerProc(t, bin, url, "b")
		waitConnected(t, c, 2)
		res := mineAsync(c, job.tpl, job.target)
		waitRanges(t, c, "a", 1)
		notOverYet(t, res)
		a.signal(syscall.SIGKILL)
		await(t, res, job.nonce)
		if st := c.Stats(); st.Reissued == 0 {
			t.Errorf("the killed worker's ranges were not reissued: %+v", st)
		}
	})

	t.Run("SIGSTOP past the lease, then SIGCONT", func(t *testing.T) {
		url := embeddedNATS(t)
		c := testCoordinator(t, url, faultOptions())
		a := startSlowWorkerProc(t, bin, url, "a")
		startSlowWorkerProc(t, bin, url, "b")
		waitConnected(t, c, 2)
		res := mineAsync(c, job.tpl, job.target)
		waitRanges(t, c, "a", 1)
		notOverYet(t, res)
		a.signal(syscall.SIGSTOP)
		deadline := time.Now().Add(30 * time.Second)
		for c.Stats().Reissued == 0 { // the stopped worker's lease ran out
			if time.Now().After(deadline) {
				t.Fatalf("no range reissued 30s after SIGSTOP: %+v", c.Stats())
			}
			time.Sleep(20 * time.Millisecond)
		}
		a.signal(syscall.SIGCONT)
		await(t, res, job.nonce)
	})

	t.Run("SIGTERM hands the ranges back", func(t *testing.T) {
		url := embeddedNATS(t)
		opt := faultOptions()
		opt.Lease = time.Hour // only a hand-back can reissue
		c := testCoordinator(t, url, opt)
		a := startSlowWorkerProc(t, bin, url, "a")
		startSlowWorkerProc(t, bin, url, "b")
		waitConnected(t, c, 2)
		res := mineAsync(c, job.tpl, job.target)
		waitRanges(t, c, "a", 1)
		notOverYet(t, res)
		a.signal(syscall.SIGTERM)
		if code := a.wait(t, 10*time.Second); code != 0 {
			t.Errorf("worker exited %d after SIGTERM, want 0", code)
		}
		await(t, res, job.nonce)
		if st := c.Stats(); st.Reissued == 0 {
			t.Errorf("no range was handed back: %+v", st)
		}
	})

	t.Run("kill the NATS server a worker uses", func(t *testing.T) {
		urls, servers := natsCluster(t, 3)
		c := testCoordinator(t, urls[1], faultOptions())
		startSlowWorkerProc(t, bin, urls[0], "a") // learns the other servers from the cluster
		startSlowWorkerProc(t, bin, urls[2], "b")
		waitConnected(t, c, 2)
		res := mineAsync(c, job.tpl, job.target)
		waitRanges(t, c, "a", 1)
		before := workerInfo(c, "a").Ranges
		servers[0].signal(syscall.SIGKILL)
		await(t, res, job.nonce)
		t.Logf("worker a answered %d ranges before its server died, %d in all", before, workerInfo(c, "a").Ranges)
	})

	t.Run("restart the coordinator", func(t *testing.T) {
		// The workers run the pure Go kernel, so that the job lasts seconds
		// and the kill below is mid-job.
		url := embeddedNATS(t)
		workers := []*child{startSlowWorkerProc(t, bin, url, "a"), startSlowWorkerProc(t, bin, url, "b")}
		args := []string{"mine", "--nats", url, "--workers", "0", "--bits", strconv.Itoa(job.bits),
			"--range-time", "200ms", "--lease", "1s", "--progress", "never", "-"}
		first := exec.Command(bin, args...)
		first.Stdin = strings.NewReader(job.block)
		out := &syncBuffer{}
		first.Stderr = out
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(out.String(), "worker joined") < 2 {
			if time.Now().After(deadline) {
				first.Process.Kill()
				first.Wait()
				t.Fatalf("the workers did not join the first coordinator:\n%s", out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Mid-job: each worker has asked for and been handed its first
		// range (the coordinator logs the join as it leases it).
		first.Process.Kill()
		first.Wait()
		if strings.Contains(out.String(), "mined block") {
			t.Fatalf("the first coordinator finished before it was killed; the job is too short:\n%s", out.String())
		}
		killed := time.Now()
		// The second coordinator starts once each worker has found no
		// coordinator answering (its log says so last) and a request on
		// its way when the first one died has been given up (after the
		// request timeout): then both ask for ranges as soon as the
		// second announces its job, and both take part in it.
		for _, w := range workers {
			for {
				log := w.stderr.String()
				if strings.Count(log, "no coordinator answers") > strings.Count(log, "a coordinator answers") &&
					time.Since(killed) > fleet.DefaultRequestTimeout {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s did not notice the coordinator was gone:\n%s", w.name, w.stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		second := exec.Command(bin, args...)
		second.Stdin = strings.NewReader(job.block)
		var stdout, stderr syncBuffer
		second.Stdout, second.Stderr = &stdout, &stderr
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- second.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the second coordinator: %v\n%s", err, stderr.String())
			}
		case <-time.After(2 * time.Minute):
			second.Process.Kill()
			<-done
			t.Fatalf("the second coordinator did not finish within 2 minutes:\n%s", stderr.String())
		}
		if stdout.String() != job.out {
			t.Fatalf("the fleet printed\n%s\none machine printed\n%s", stdout.String(), job.out)
		}
		if !strings.Contains(stderr.String(), "worker a (") || !strings.Contains(stderr.String(), "worker b (") {
			t.Errorf("no per-worker totals on stderr:\n%s", stderr.String())
		}
	})
}

// TestWorkerAuthorization starts NATS servers that want credentials: a
// worker with wrong ones exits 2 saying authorization failed; with the
// right ones it mines.
func TestWorkerAuthorization(t *testing.T) {
	bin := buildPowchain(t)
	for _, creds := range []struct{ server, wrong, right string }{
		{"alice:s3cret@", "alice:wrong@", "alice:s3cret@"},
		{"t0ken@", "other@", "t0ken@"},
	} {
		s, err := fleet.StartServer(creds.server + "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		bad := startChild(t, "worker with wrong credentials", bin, "worker", "--nats", "nats://"+creds.wrong+s.Addr(), "--workers", "1")
		if code := bad.wait(t, 30*time.Second); code != 2 {
			t.Errorf("worker with wrong credentials exited %d, want 2\n%s", code, bad.stderr.String())
		}
		if !strings.Contains(bad.stderr.String(), "authorization failed") {
			t.Errorf("worker with wrong credentials said %q, want it to say authorization failed", bad.stderr.String())
		}
		if strings.Contains(bad.stderr.String(), "wrong") {
			t.Errorf("the message shows the password: %q", bad.stderr.String())
		}
		startWorkerProc(t, bin, "nats://"+creds.right+s.Addr(), "good")
		nc, err := s.Connect("test coordinator")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		c, err := fleet.NewCoordinator(nc, fleet.Options{InitialRange: 1024})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r := fleetRows(t)[0]
		await(t, mineAsync(c, r.tpl, r.target), r.nonce)
	}
}

// TestServeWithFleet runs `serve --nats URL --workers 0` with one remote
// worker: /mine blocks are mined by the worker, `powchain verify` accepts
// the chain, GET /workers lists the worker and /metrics counts its ranges.
func TestServeWithFleet(t *testing.T) {
	bin := buildPowchain(t)
	url := embeddedNATS(t)
	p := startServe(t, bin, "--data", t.TempDir(), "--difficulty", "3", "--nats", url, "--workers", "0")
	startWorkerProc(t, bin, url, "remote-1")
	for i := 0; i < 3; i++ {
		tx := fmt.Sprintf(`{"author": "fleet", "content": "block %d"}`, i)
		if code, body := httpDo(t, "POST", p.url+"new_transaction", tx); code != 201 {
			t.Fatalf("new_transaction: %d %s", code, body)
		}
		if code, body := httpDo(t, "GET", p.url+"mine", ""); code != 200 || !strings.Contains(body, "mined") {
			t.Fatalf("mine: %d %s", code, body)
		}
	}
	_, chain := httpDo(t, "GET", p.url+"chain", "")
	verify := exec.Command(bin, "verify", "--difficulty", "3")
	verify.Stdin = strings.NewReader(chain)
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	var dump struct{ Length int }
	json.Unmarshal([]byte(chain), &dump)
	if dump.Length != 4 {
		t.Fatalf("chain length %d, want 4", dump.Length)
	}

	// With --workers 0 the node mines nothing itself, and says so.
	var health struct {
		Workers *int `json:"workers"`
	}
	if _, hb := httpDo(t, "GET", p.url+"health", ""); json.Unmarshal([]byte(hb), &health) != nil || health.Workers == nil || *health.Workers != 0 {
		t.Errorf("GET /health with --workers 0: %s; want \"workers\": 0", hb)
	}

	code, body := httpDo(t, "GET", p.url+"workers", "")
	var workers []struct {
		Name     string    `json:"name"`
		Kernel   string    `json:"kernel"`
		Cores    int       `json:"cores"`
		Rate     float64   `json:"rate"`
		LastSeen time.Time `json:"last_seen"`
	}
	if err := json.Unmarshal([]byte(body), &workers); code != http.StatusOK || err != nil {
		t.Fatalf("GET /workers: %d %s (%v)", code, body, err)
	}
	if len(workers) != 1 || workers[0].Name != "remote-1" || workers[0].Cores != 1 || workers[0].Kernel == "" ||
		workers[0].Rate <= 0 || time.Since(workers[0].LastSeen) > time.Minute {
		t.Errorf("GET /workers: %s", body)
	}
	_, metrics := httpDo(t, "GET", p.url+"metrics", "")
	for _, want := range []string{
		"powchain_fleet_workers_connected 1",
		`powchain_fleet_worker_hash_rate{worker="remote-1"}`,
		"powchain_fleet_ranges_issued_total",
		"powchain_fleet_ranges_reissued_total 0",
		"powchain_fleet_ranges_answered_total",
		"powchain_fleet_solutions_refused_total 0",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(metrics, "powchain_fleet_ranges_answered_total 0\n") {
		t.Error("/metrics counts no answered range")
	}

	// The node's own hash count and rate are the fleet's: with no local
	// worker, only the hashes the remote one reports can make them
	// non-zero. The rate is sampled once a second over the last ten, so
	// look for up to 5 s; idle, it falls back to 0 once the blocks'
	// hashes are more than ten seconds old (look for up to 30 s).
	sample := func(name string) float64 {
		_, metrics := httpDo(t, "GET", p.url+"metrics", "")
		for _, line := range strings.Split(metrics, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return -1
	}
	if h := sample("powchain_hashes_total"); h <= 0 {
		t.Errorf("powchain_hashes_total %v after 3 blocks mined by a remote worker: the fleet's hashes are not counted", h)
	}
	rate := 0.0
	for i := 0; i < 50 && rate <= 0; i++ {
		time.Sleep(100 * time.Millisecond)
		rate = sample("powchain_hash_rate")
	}
	if rate <= 0 {
		t.Errorf("powchain_hash_rate stayed %v with a remote worker mining: the fleet's rate is not counted", rate)
	}
	for i := 0; i < 300 && rate != 0; i++ {
		time.Sleep(100 * time.Millisecond)
		rate = sample("powchain_hash_rate")
	}
	if rate != 0 {
		t.Errorf("powchain_hash_rate %v 30 s after the node stopped mining: an idle fleet still counts", rate)
	}
}

// TestMineFleetWait: `powchain mine --nats-listen --workers 0` started
// before any worker waits for one, then prints the block one machine
// prints; its summary names the wait and leaves it out of the time and
// rate it gives the fleet.
func TestMineFleetWait(t *testing.T) {
	bin := buildPowchain(t)
	const block = "../../examples/block.json"
	local, err := exec.Command(bin, "mine", "--difficulty", "4", "--progress", "never", block).Output()
	if err != nil {
		t.Fatal(err)
	}
	port := freePorts(t, 1)[0]
	began := time.Now()
	c := startChild(t, "coordinator", bin, "mine", "--nats-listen", fmt.Sprintf("127.0.0.1:%d", port), "--workers", "0",
		"--difficulty", "4", "--progress", "never", block)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(c.stderr.String(), "waiting for workers") {
		if time.Now().After(deadline) {
			t.Fatalf("the coordinator did not start waiting for workers: %q", c.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	const wait = 1500 * time.Millisecond // the wait the summary must leave out
	time.Sleep(wait)
	startWorkerProc(t, bin, fmt.Sprintf("nats://127.0.0.1:%d", port), "late")
	if code := c.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("mine --nats-listen: exit %d\n%s", code, c.stderr.String())
	}
	total := time.Since(began)
	if out := c.stdout.String(); out != string(local) {
		t.Fatalf("the fleet printed\n%s\none machine prints\n%s", out, local)
	}
	m := regexp.MustCompile(`mined block \d+ at .*: nonce \d+ after \d+ hashes in ([^ ]+) \(.*, a fleet, after (\d+)s waiting for workers\)`).FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("the summary does not name the wait for workers: %q", c.stderr.String())
	}
	took, err := time.ParseDuration(m[1])
	if waited, _ := strconv.Atoi(m[2]); err != nil || waited < 1 || took > total-wait {
		t.Fatalf("summary: mined in %s after %ss waiting (%v), %v in all; want the wait (over %v) out of the mining time", m[1], m[2], err, total, wait)
	}
}
