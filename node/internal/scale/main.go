// Command scale is the node's scale benchmark. For each chain length it
// builds a chain with `powchain loadgen chain` (difficulty 1), serves it
// with `powchain serve` and measures, on real processes over loopback:
//
//   - disk bytes per block (the store file over the chain length);
//   - start-up time (exec to the first 200 from /health) and RSS after it;
//   - append latency: POST /add_block of a block mined here on the tip,
//     and GET /mine of one pending transaction (medians of -appends);
//   - GET /chain: time to the first byte and in all (medians of 3), and the
//     peak RSS (VmHWM) after those requests;
//   - sync: the time a fresh node takes to hold the whole chain, having
//     registered with the served one (--peers);
//   - with -kill, a second fresh node killed (SIGKILL) when it holds half
//     the chain and restarted: the length it restarts with and the time
//     it then takes to finish.
//
// Every step is bounded by -step-timeout; a step that fails or times out
// is recorded as such and the run goes on. It prints a Markdown table and
// writes scale.json and scale.svg (cost against chain length, log axes)
// into -out.
//
//	go build -o bin/powchain ./cmd/powchain
//	go run ./node/internal/scale -bin bin/powchain -sizes 1000,10000,100000,1000000 -out /tmp/scale
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// Row is what the benchmark measured at one chain length. Durations are
// in milliseconds; a measurement that failed is -1 and its reason is in
// Errors.
type Row struct {
	Blocks        int               `json:"blocks"`
	BuildMS       float64           `json:"build_ms"`
	DiskPerBlock  float64           `json:"disk_bytes_per_block"`
	DiskAlloc     float64           `json:"disk_allocated_bytes_per_block"`
	StartMS       float64           `json:"startup_ms"`
	RSSMB         float64           `json:"rss_mb"`
	AddBlockMS    float64           `json:"add_block_ms"`
	MineMS        float64           `json:"mine_ms"`
	ChainTTFBMS   float64           `json:"chain_ttfb_ms"`
	ChainTotalMS  float64           `json:"chain_total_ms"`
	ChainBytes    int64             `json:"chain_bytes"`
	PeakRSSMB     float64           `json:"peak_rss_mb"`
	ChainAnonMB   float64           `json:"chain_anon_peak_mb"`
	Clients       int               `json:"chain_clients,omitempty"`
	ClientsAnonMB float64           `json:"chain_clients_anon_peak_mb,omitempty"`
	AnonMB        float64           `json:"anon_rss_mb"`
	SyncMS        float64           `json:"sync_ms"`
	SyncRSSMB     float64           `json:"sync_rss_mb"`
	SyncAnonMB    float64           `json:"sync_anon_peak_mb"`
	KillAt        int               `json:"kill_at,omitempty"`
	RestartLength int               `json:"restart_length,omitempty"`
	ResumeMS      float64           `json:"resume_ms,omitempty"`
	Errors        map[string]string `json:"errors,omitempty"`
}

type config struct {
	bin     string
	sizes   []int
	out     string
	work    string
	appends int
	timeout time.Duration
	kill    bool
	label   string
	clients int
	compare string
	base    []Row // the compared run
}

// run is what scale.json holds.
type run struct {
	Label string `json:"label"`
	Rows  []Row  `json:"rows"`
}

func readRun(path string) (*run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r run
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func main() {
	var c config
	var sizes string
	flag.StringVar(&c.bin, "bin", "bin/powchain", "the powchain binary to measure")
	flag.StringVar(&sizes, "sizes", "1000,10000,100000,1000000", "chain lengths, comma-separated")
	flag.StringVar(&c.out, "out", "scale-out", "directory for scale.json and scale.svg")
	flag.StringVar(&c.work, "work", "", "directory for the data dirs (default: -out/data); chains already built there are reused")
	flag.IntVar(&c.appends, "appends", 20, "appends measured per length (median reported)")
	flag.DurationVar(&c.timeout, "step-timeout", 5*time.Minute, "bound on each step (start-up, a /chain, a sync)")
	flag.BoolVar(&c.kill, "kill", false, "also kill a syncing node halfway and restart it")
	flag.StringVar(&c.label, "label", "", "a label for the run (e.g. before, after), in the JSON and the SVG title")
	flag.IntVar(&c.clients, "clients", 0, "also measure this many concurrent GET /chain clients (0: skip)")
	flag.StringVar(&c.compare, "compare", "", "a scale.json of an earlier run, drawn dashed in the SVG")
	replot := flag.Bool("replot", false, "measure nothing: redraw -out/scale.svg and scale.md from -out/scale.json")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "scale: -sizes: %q is not a positive number\n", s)
			os.Exit(2)
		}
		c.sizes = append(c.sizes, n)
	}
	if c.compare != "" {
		doc, err := readRun(c.compare)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale: -compare:", err)
			os.Exit(2)
		}
		c.base = doc.Rows
	}
	if *replot {
		doc, err := readRun(filepath.Join(c.out, "scale.json"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(2)
		}
		if c.label == "" {
			c.label = doc.Label
		}
		if err := write(c, doc.Rows); err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
		return
	}
	if c.work == "" {
		c.work = filepath.Join(c.out, "data")
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
	var rows []Row
	for _, n := range c.sizes {
		r := measure(c, n)
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "scale: %d blocks done: %+v\n", n, r)
		if err := write(c, rows); err != nil {
			fmt.Fprintln(os.Stderr, "scale:", err)
			os.Exit(1)
		}
	}
	fmt.Print(table(rows))
}

// write saves the JSON and the SVG of the rows so far.
func write(c config, rows []Row) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	cpu := hasher.Info()
	doc := map[string]any{"label": c.label, "cpu": cpu, "binary": c.bin, "rows": rows, "when": time.Now().UTC().Format(time.RFC3339)}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "scale.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "scale.md"), []byte(table(rows)), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(c.out, "scale.svg"))
	if err != nil {
		return err
	}
	defer f.Close()
	return plotRows(f, c.label, rows, c.base)
}

func fmtMS(v float64) string {
	switch {
	case v < 0:
		return "fail"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 10000:
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.1f s", v/1000)
}

func fmtMB(v float64) string {
	if v < 0 {
		return "fail"
	}
	return fmt.Sprintf("%.0f MB", v)
}

// table renders the rows as Markdown, one column per chain length.
func table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| cost |")
	for _, r := range rows {
		fmt.Fprintf(&b, " %d blocks |", r.Blocks)
	}
	b.WriteString("\n| --- |")
	for range rows {
		b.WriteString(" ---: |")
	}
	b.WriteString("\n")
	line := func(name string, f func(Row) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range rows {
			fmt.Fprintf(&b, " %s |", f(r))
		}
		b.WriteString("\n")
	}
	line("wire bytes per block (/chain size / length)", func(r Row) string {
		if r.ChainBytes == 0 {
			return "fail"
		}
		return fmt.Sprintf("%.0f", float64(r.ChainBytes)/float64(r.Blocks))
	})
	line("disk bytes per block (file size)", func(r Row) string { return fmt.Sprintf("%.0f", r.DiskPerBlock) })
	line("disk bytes per block (allocated)", func(r Row) string { return fmt.Sprintf("%.0f", r.DiskAlloc) })
	line("start-up", func(r Row) string { return fmtMS(r.StartMS) })
	line("RSS after start-up", func(r Row) string { return fmtMB(r.RSSMB) })
	line("append: POST /add_block (median)", func(r Row) string { return fmtMS(r.AddBlockMS) })
	line("append: GET /mine, 1 tx (median)", func(r Row) string { return fmtMS(r.MineMS) })
	line("GET /chain first byte (median)", func(r Row) string { return fmtMS(r.ChainTTFBMS) })
	line("GET /chain total (median)", func(r Row) string { return fmtMS(r.ChainTotalMS) })
	line("anonymous RSS after start-up", func(r Row) string { return fmtMB(r.AnonMB) })
	line("peak RSS after 3 /chain", func(r Row) string { return fmtMB(r.PeakRSSMB) })
	line("peak anonymous RSS during /chain", func(r Row) string { return fmtMB(r.ChainAnonMB) })
	if slices.ContainsFunc(rows, func(r Row) bool { return r.Clients > 1 }) {
		line("peak anonymous RSS, concurrent /chain clients", func(r Row) string {
			return fmt.Sprintf("%s (%d clients)", fmtMB(r.ClientsAnonMB), r.Clients)
		})
	}
	line("fresh node sync", func(r Row) string { return fmtMS(r.SyncMS) })
	line("syncing node peak RSS", func(r Row) string { return fmtMB(r.SyncRSSMB) })
	line("syncing node peak anonymous RSS", func(r Row) string { return fmtMB(r.SyncAnonMB) })
	if slices.ContainsFunc(rows, func(r Row) bool { return r.KillAt > 0 }) {
		line("kill mid-sync at / restarts with", func(r Row) string {
			if _, failed := r.Errors["kill-sync"]; failed {
				return "fail"
			}
			return fmt.Sprintf("%d / %d", r.KillAt, r.RestartLength)
		})
		line("restart to synced", func(r Row) string {
			if _, failed := r.Errors["kill-sync"]; failed {
				return "fail"
			}
			return fmtMS(r.ResumeMS)
		})
	}
	var notes []string
	for _, r := range rows {
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			notes = append(notes, fmt.Sprintf("- %d blocks, %s: %s", r.Blocks, k, r.Errors[k]))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

// proc is one powchain serve process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	logf *os.File
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// serve starts powchain serve on dir and waits for /health; it returns
// the process and the start-up time.
func serve(c config, dir string, timeout time.Duration, extra ...string) (*proc, time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	args := append([]string{"serve", "--data", dir, "--difficulty", "1", "--addr", addr, "--workers", "1", "--log-level", "info"}, extra...)
	logf, err := os.OpenFile(dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, 0, err
	}
	p := &proc{cmd: cmd, url: "http://" + addr + "/", done: make(chan error, 1), logf: logf}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := health(p.url); err == nil {
			return p, time.Since(start), nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			logf.Close()
			return nil, 0, fmt.Errorf("serve exited before answering: %v (see %s.log)", err, dir)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, 0, fmt.Errorf("no answer from /health within %v", timeout)
		}
	}
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.logf.Close()
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
	p.logf.Close()
}

// anon returns RssAnon of the process in MB: the memory it holds of its
// own, without the file pages of the store it has mapped (page cache,
// shared and reclaimable, which VmRSS counts too).
func (p *proc) anon() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "RssAnon:" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// sampleAnon polls RssAnon every 10 ms until stop is called, which
// returns the highest value seen.
func (p *proc) sampleAnon() (stop func() float64) {
	done := make(chan struct{})
	res := make(chan float64, 1)
	go func() {
		peak := p.anon()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				res <- max(peak, p.anon())
				return
			case <-t.C:
				peak = max(peak, p.anon())
			}
		}
	}()
	return func() float64 { close(done); return <-res }
}

// rss returns VmRSS and VmHWM of the process in MB.
func (p *proc) rss() (cur, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1, -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

type healthAnswer struct {
	Length   int    `json:"length"`
	Height   int64  `json:"height"`
	LastHash string `json:"last_hash"`
}

var client = &http.Client{Timeout: 10 * time.Second}

func health(url string) (*healthAnswer, error) {
	resp, err := client.Get(url + "health")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("health: %s", resp.Status)
	}
	var h healthAnswer
	return &h, json.NewDecoder(resp.Body).Decode(&h)
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return -1
	}
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measure runs every step at chain length n.
func measure(c config, n int) Row {
	r := Row{Blocks: n, Errors: map[string]string{}}
	fail := func(step string, err error) { r.Errors[step] = err.Error() }
	r.BuildMS, r.DiskPerBlock, r.StartMS, r.RSSMB, r.AddBlockMS, r.MineMS = -1, -1, -1, -1, -1, -1
	r.ChainTTFBMS, r.ChainTotalMS, r.PeakRSSMB, r.SyncMS, r.SyncRSSMB = -1, -1, -1, -1, -1
	r.AnonMB, r.ChainAnonMB = -1, -1

	dir := filepath.Join(c.work, fmt.Sprintf("chain-%d", n))
	if _, err := os.Stat(filepath.Join(dir, "powchain.db")); err != nil {
		start := time.Now()
		out, err := exec.Command(c.bin, "loadgen", "chain", "--blocks", strconv.Itoa(n-1), "--difficulty", "1", "--out", dir).CombinedOutput()
		if err != nil {
			fail("build", fmt.Errorf("%v: %s", err, out))
			return r
		}
		r.BuildMS = ms(time.Since(start))
	}
	if st, err := os.Stat(filepath.Join(dir, "powchain.db")); err == nil {
		r.DiskPerBlock = float64(st.Size()) / float64(n)
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			r.DiskAlloc = float64(sys.Blocks*512) / float64(n)
		}
	}

	a, startup, err := serve(c, dir, c.timeout, "--sync-interval", "0")
	if err != nil {
		fail("start-up", err)
		return r
	}
	defer a.stop()
	r.StartMS = ms(startup)
	r.RSSMB, _ = a.rss()
	r.AnonMB = a.anon()

	// GET /chain three times.
	stopAnon := a.sampleAnon()
	var ttfb, total []time.Duration
	for range 3 {
		t0, t1, size, err := getChain(a.url, c.timeout)
		if err != nil {
			fail("chain", err)
			break
		}
		ttfb, total = append(ttfb, t0), append(total, t1)
		r.ChainBytes = size
	}
	r.ChainTTFBMS, r.ChainTotalMS = median(ttfb), median(total)
	r.ChainAnonMB = stopAnon()
	_, r.PeakRSSMB = a.rss()

	// GET /chain by several clients at once.
	if c.clients > 1 {
		stopAnon := a.sampleAnon()
		errs := make(chan error, c.clients)
		for range c.clients {
			go func() { _, _, _, err := getChain(a.url, c.timeout); errs <- err }()
		}
		for range c.clients {
			if err := <-errs; err != nil {
				fail("chain clients", err)
			}
		}
		r.ClientsAnonMB = stopAnon()
		r.Clients = c.clients
	}

	// Sync a fresh node from this one (before the appends, so that the
	// chain is exactly n blocks long).
	r.SyncMS, r.SyncRSSMB, r.SyncAnonMB = syncFresh(c, a, n, filepath.Join(c.work, fmt.Sprintf("sync-%d", n)), fail)
	if c.kill {
		killSync(c, a, n, filepath.Join(c.work, fmt.Sprintf("kill-%d", n)), &r, fail)
	}

	// Appends.
	var adds, mines []time.Duration
	target, _ := engine.Difficulty(1)
	for i := range c.appends {
		h, err := health(a.url)
		if err != nil {
			fail("add_block", err)
			break
		}
		tpl := &engine.Block{Index: h.Height + 1, PreviousHash: h.LastHash, Timestamp: pyjson.Float(float64(time.Now().UnixNano()) / 1e9),
			Transactions: []pyjson.Value{pyjson.Object{"author": "scale", "content": fmt.Sprintf("add %d", i)}}}
		b, _, err := engine.MineBlock(context.Background(), engine.NewMiner(nil, 1), tpl, target)
		if err != nil {
			fail("add_block", err)
			break
		}
		wire, _ := b.MarshalWire()
		t := time.Now()
		code, body, err := post(a.url+"add_block", wire)
		if err == nil && code != 201 {
			err = fmt.Errorf("%d %s", code, body)
		}
		if err != nil {
			fail("add_block", err)
			break
		}
		adds = append(adds, time.Since(t))

		tx, _ := pyjson.Encode(pyjson.Object{"author": "scale", "content": fmt.Sprintf("mine %d", i)})
		if code, body, err := post(a.url+"new_transaction", tx); err != nil || code != 201 {
			fail("mine", fmt.Errorf("new_transaction: %d %s %v", code, body, err))
			break
		}
		t = time.Now()
		resp, err := client.Get(a.url + "mine")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = errors.New(resp.Status)
			}
		}
		if err != nil {
			fail("mine", err)
			break
		}
		mines = append(mines, time.Since(t))
	}
	r.AddBlockMS, r.MineMS = median(adds), median(mines)
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
	return r
}

func post(url string, body []byte) (int, string, error) {
	resp, err := client.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

// getChain times GET /chain to its first byte and to its end.
func getChain(url string, timeout time.Duration) (ttfb, total time.Duration, size int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"chain", nil)
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	var one [1]byte
	if _, err := io.ReadFull(resp.Body, one[:]); err != nil {
		return 0, 0, 0, err
	}
	ttfb = time.Since(start)
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, 0, 0, err
	}
	return ttfb, time.Since(start), n + 1, nil
}

// syncFresh starts a fresh node that registers with a and times it until
// it holds n blocks; it returns the time and the node's peak RSS.
func syncFresh(c config, a *proc, n int, dir string, fail func(string, error)) (float64, float64, float64) {
	os.RemoveAll(dir)
	os.Remove(dir + ".log")
	defer os.RemoveAll(dir)
	start := time.Now()
	b, _, err := serve(c, dir, c.timeout, "--peers", a.url, "--sync-interval", "2s")
	if err != nil {
		fail("sync", err)
		return -1, -1, -1
	}
	defer b.stop()
	stopAnon := b.sampleAnon()
	err = waitLength(b, n, start.Add(c.timeout))
	anon := stopAnon()
	if err != nil {
		fail("sync", err)
		return -1, -1, anon
	}
	_, peak := b.rss()
	return ms(time.Since(start)), peak, anon
}

func waitLength(p *proc, n int, deadline time.Time) error {
	last := 0
	for time.Now().Before(deadline) {
		if h, err := health(p.url); err == nil {
			last = h.Length
			if h.Length >= n {
				return nil
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("the syncing node exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("timed out: %d of %d blocks", last, n)
}

// killSync starts a fresh node syncing from a, kills it with SIGKILL when
// it holds half the chain, restarts it and times it to the end.
func killSync(c config, a *proc, n int, dir string, r *Row, fail func(string, error)) {
	os.RemoveAll(dir)
	os.Remove(dir + ".log")
	defer os.RemoveAll(dir)
	b, _, err := serve(c, dir, c.timeout, "--peers", a.url, "--sync-interval", "2s")
	if err != nil {
		fail("kill-sync", err)
		return
	}
	if err := waitLength(b, n/2, time.Now().Add(c.timeout)); err != nil {
		b.kill()
		fail("kill-sync", err)
		return
	}
	h, _ := health(b.url)
	b.kill()
	if h != nil {
		r.KillAt = h.Length
	}
	start := time.Now()
	b, _, err = serve(c, dir, c.timeout, "--peers", a.url, "--sync-interval", "2s")
	if err != nil {
		fail("kill-sync restart", err)
		return
	}
	defer b.stop()
	if h, err := health(b.url); err == nil {
		r.RestartLength = h.Length
	}
	if err := waitLength(b, n, start.Add(c.timeout)); err != nil {
		fail("kill-sync restart", err)
		return
	}
	r.ResumeMS = ms(time.Since(start))
}
