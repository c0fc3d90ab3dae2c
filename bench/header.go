package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// HeaderConfig says what RunHeader measures: the sha256d hash rate on
// Bitcoin headers of every kernel with a header mode, at every worker
// count, and of outside miners run the same way (Baselines).
type HeaderConfig struct {
	Hashers []hasher.Hasher // kernels; those without a header mode are an error
	Workers []int           // worker counts, each >= 1
	// RateTime is the length of one sample; Rounds is how many samples
	// each cell gets. The cells are measured round-robin, one sample each
	// per round, so that a machine busy with something else for a while
	// slows every cell alike; each cell reports its median.
	RateTime time.Duration
	Rounds   int
	// Baselines are outside miners, run as PATH --benchmark -a sha256d -t
	// N (and the flags of BaselineFlags) for RateTime per sample, in the
	// same rounds.
	Baselines []Baseline
	Seed      uint64 // selects the random headers mined

	Version, Command string
	// Progress, when set, is called before each sample, from Run's
	// goroutine.
	Progress func(HeaderStatus)
}

// Baseline is an outside miner: Name labels it in the report, Path is the
// executable, cpuminer-opt or pooler's cpuminer. RunHeader fills in the
// rest from its --help and --version output.
type Baseline struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Version is the miner's name and version ("cpuminer-opt 26.1",
	// "cpuminer 2.5.1").
	Version string `json:"version,omitempty"`
	// Features is what the miner says its build uses (cpuminer-opt's "SW
	// features", pooler's "features").
	Features string `json:"features,omitempty"`
	// Args are the flags it runs with besides --benchmark -a sha256d -t
	// N (see BaselineFlags).
	Args []string `json:"args,omitempty"`
}

// HeaderStatus is a snapshot of RunHeader, for progress displays.
type HeaderStatus struct {
	Round, Rounds int
	Who           string
	Workers       int
	Elapsed       time.Duration
}

// HeaderReport is the result of RunHeader.
type HeaderReport struct {
	Header  HeaderRunInfo  `json:"header"`
	Records []HeaderRecord `json:"records"`
}

// HeaderRunInfo describes the machine and the run.
type HeaderRunInfo struct {
	Tool      string         `json:"tool"`
	Mode      string         `json:"mode"`
	Version   string         `json:"powchain_version"`
	Command   string         `json:"command,omitempty"`
	GoVersion string         `json:"go_version"`
	CPU       hasher.CPUInfo `json:"cpu"`
	Assembly  bool           `json:"assembly"`
	Start     time.Time      `json:"start"`
	Seconds   float64        `json:"seconds"`
	RateTime  float64        `json:"rate_time_s"`
	Rounds    int            `json:"rounds"`
	Baselines []Baseline     `json:"baselines,omitempty"`
	Stopped   string         `json:"stopped,omitempty"`
	Notes     []string       `json:"notes,omitempty"`
}

// HeaderRecord is one cell: a kernel (or baseline) at a worker count.
// Rates are nonces (headers) per second: medians over the samples, with
// the samples themselves.
type HeaderRecord struct {
	Who      string    `json:"who"`                // kernel name, or baseline name
	Baseline bool      `json:"baseline,omitempty"` // an outside miner
	Workers  int       `json:"workers"`
	Rates    []float64 `json:"rates"` // H/s per sample
	Median   float64   `json:"median"`
	// VsBaseline is Median over each baseline's median at the same worker
	// count, by baseline name.
	VsBaseline map[string]float64 `json:"vs_baseline,omitempty"`
}

// RunHeader measures the configured cells and returns the report, which is
// never nil once the configuration is valid: when ctx is cancelled it
// returns what it measured with ctx's error.
func RunHeader(ctx context.Context, cfg HeaderConfig) (*HeaderReport, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case len(cfg.Hashers) == 0 && len(cfg.Baselines) == 0:
		return nil, bad("no kernels and no baselines")
	case len(cfg.Workers) == 0:
		return nil, bad("no worker counts")
	case cfg.RateTime <= 0:
		return nil, bad("the sample time must be positive")
	}
	if cfg.Rounds < 1 {
		cfg.Rounds = 3
	}
	var kernels []hasher.HeaderHasher
	for _, h := range cfg.Hashers {
		hk, err := hasher.HeaderKernel(h)
		if err != nil {
			return nil, bad("%v", err)
		}
		kernels = append(kernels, hk)
	}
	for _, w := range cfg.Workers {
		if w < 1 {
			return nil, bad("worker count %d is below 1", w)
		}
	}
	start := time.Now()
	rep := &HeaderReport{Header: HeaderRunInfo{
		Tool: "powchain bench", Mode: "sha256d", Version: cfg.Version, Command: cfg.Command,
		GoVersion: runtime.Version(), CPU: hasher.Info(), Assembly: hasher.HaveAsm,
		Start: start.UTC().Truncate(time.Second), RateTime: cfg.RateTime.Seconds(), Rounds: cfg.Rounds,
	}}
	recs := map[string]*HeaderRecord{}
	key := func(who string, w int) string { return who + "/" + strconv.Itoa(w) }
	for _, w := range cfg.Workers {
		for _, k := range kernels {
			rep.Records = append(rep.Records, HeaderRecord{Who: k.Name(), Workers: w})
		}
		for _, b := range cfg.Baselines {
			rep.Records = append(rep.Records, HeaderRecord{Who: b.Name, Baseline: true, Workers: w})
		}
	}
	for i := range rep.Records {
		r := &rep.Records[i]
		recs[key(r.Who, r.Workers)] = r
	}
	baselines := slices.Clone(cfg.Baselines)
	for i := range baselines {
		if err := probeBaseline(ctx, &baselines[i]); err != nil {
			return nil, bad("baseline %s: %v", baselines[i].Name, err)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5ead))
	never := hasher.HeaderTarget{} // only a hash of zero meets it
	var err error
rounds:
	for round := 1; round <= cfg.Rounds; round++ {
		for _, w := range cfg.Workers {
			for _, k := range kernels {
				if err = ctx.Err(); err != nil {
					break rounds
				}
				if cfg.Progress != nil {
					cfg.Progress(HeaderStatus{round, cfg.Rounds, k.Name(), w, time.Since(start)})
				}
				var hdr hasher.Header
				for i := range hdr {
					hdr[i] = byte(rng.Uint32())
				}
				// A window that closed before any worker hashed (a
				// loaded machine) is no sample: run it again, twice as
				// long, until it hashes or the run is stopped.
				var res engine.HeaderResult
				var merr error
				for window := cfg.RateTime; res.Hashes == 0 && ctx.Err() == nil; window *= 2 {
					sctx, cancel := context.WithTimeout(ctx, window)
					res, merr = engine.NewMiner(k, w).MineHeader(sctx, hasher.NewHeaderJob(&hdr), 0, never)
					cancel()
					if merr != nil && !errors.Is(merr, engine.ErrCanceled) {
						break
					}
				}
				if merr != nil && !errors.Is(merr, engine.ErrCanceled) {
					err = merr
					break rounds
				}
				if res.Hashes > 0 && ctx.Err() == nil {
					r := recs[key(k.Name(), w)]
					r.Rates = append(r.Rates, float64(res.Hashes)/res.Elapsed.Seconds())
				}
			}
			for i := range baselines {
				b := &baselines[i]
				if err = ctx.Err(); err != nil {
					break rounds
				}
				if cfg.Progress != nil {
					cfg.Progress(HeaderStatus{round, cfg.Rounds, b.Name, w, time.Since(start)})
				}
				rate, berr := runBaseline(ctx, b, w, cfg.RateTime)
				if berr != nil {
					if ctx.Err() != nil {
						err = ctx.Err()
						break rounds
					}
					rep.Header.Notes = append(rep.Header.Notes, fmt.Sprintf("%s with %d threads: %v", b.Name, w, berr))
					continue
				}
				r := recs[key(b.Name, w)]
				r.Rates = append(r.Rates, rate)
			}
		}
	}
	rep.Header.Baselines = baselines
	rep.Header.Seconds = time.Since(start).Seconds()
	if ctx.Err() != nil {
		rep.Header.Stopped = "interrupted"
	}
	for i := range rep.Records {
		r := &rep.Records[i]
		r.Median = Median(r.Rates)
	}
	for i := range rep.Records {
		r := &rep.Records[i]
		for _, b := range baselines {
			if br := recs[key(b.Name, r.Workers)]; br != nil && br.Median > 0 && r.Median > 0 && r != br {
				if r.VsBaseline == nil {
					r.VsBaseline = map[string]float64{}
				}
				r.VsBaseline[b.Name] = r.Median / br.Median
			}
		}
	}
	return rep, err
}

// The lines a cpuminer benchmark prints, in the two families powchain
// knows:
//
//   - cpuminer-opt: "Total: 5925.96 kH/s, ...", the hashes since start
//     over the whole seconds since start, and with --hash-meter after
//     every scan "Thread 0, CPU 0: 6.84 Mh/s", that scan's hashes over its
//     time;
//   - pooler's cpuminer: after every scan "thread 0: 10573312 hashes,
//     10539 khash/s", that scan's hashes over its time, and "Total: 21041
//     khash/s", the sum of the threads' latest scans.
//
// A unit is a rate: h/s, H/s or hash/s, with a k, M, G or T prefix.
var (
	totalRe   = regexp.MustCompile(`Total: ([0-9.]+) ?([kMGT]?)(?:H|hash)/s`)
	threadRes = []*regexp.Regexp{
		regexp.MustCompile(`Thread ([0-9]+), CPU [0-9]+: ([0-9.]+) ?([kMGT]?)h/s`),
		regexp.MustCompile(`thread ([0-9]+): [0-9]+ hashes, ([0-9.]+) ?([kMGT]?)hash/s`),
	}
)

func scaled(v, unit []byte) (float64, error) {
	x, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, fmt.Errorf("bad rate %q", v)
	}
	return x * map[string]float64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[string(unit)], nil
}

// ParseMinerTotal returns the hash rate of a cpuminer benchmark from its
// output (terminal colour codes and all), in H/s: with per-thread lines,
// the sum over the threads of the median of each thread's scans after its
// first (a short one that only sizes the next); without, the last
// "Total:" line.
func ParseMinerTotal(out []byte) (float64, error) {
	out = ansiRe.ReplaceAll(out, nil)
	perThread := map[string][]float64{}
	for _, re := range threadRes {
		for _, m := range re.FindAllSubmatch(out, -1) {
			v, err := scaled(m[2], m[3])
			if err != nil {
				return 0, err
			}
			perThread[string(m[1])] = append(perThread[string(m[1])], v)
		}
		if len(perThread) > 0 {
			break
		}
	}
	if len(perThread) > 0 {
		sum := 0.0
		for id, rates := range perThread {
			if len(rates) < 2 {
				return 0, fmt.Errorf("thread %s reported only its first scan", id)
			}
			sum += Median(rates[1:])
		}
		return sum, nil
	}
	m := totalRe.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, errors.New(`no per-thread rate line and no "Total: ... H/s" line in its output (a longer --rate-time helps)`)
	}
	last := m[len(m)-1]
	return scaled(last[1], last[2])
}

// ansiRe matches the terminal colour codes cpuminer writes.
var ansiRe = regexp.MustCompile("\x1b\\[[0-9;]*m")

// BaselineFlags returns the flags a baseline miner runs with besides
// "--benchmark -a sha256d -t N": of the following, those its --help output
// (help) lists:
//
//   - --cpu-priority 2 (cpuminer-opt): nice 0, as powchain runs. Without
//     it cpuminer-opt drops its threads to nice 19 and SCHED_IDLE, which
//     on a machine shared with anything else measures the other load, not
//     the miner. Pooler's cpuminer has no such flag and stays at nice 0
//     in --benchmark;
//   - --scantime 1: a scan, and so a per-thread rate line, every second;
//   - --hash-meter (cpuminer-opt): print those per-thread lines, each
//     over its own scan's exact time, rather than only a cumulative total
//     every 5 s over whole seconds. Pooler's cpuminer prints them unasked.
func BaselineFlags(help []byte) []string {
	var args []string
	for _, f := range [][]string{{"--cpu-priority", "2"}, {"--scantime", "1"}, {"--hash-meter"}} {
		if regexp.MustCompile(`(^|[\s,])` + regexp.QuoteMeta(f[0]) + `\b`).Match(help) {
			args = append(args, f...)
		}
	}
	return args
}

// probeBaseline runs b with --help and --version once and fills in its
// version, features and the flags it runs with.
func probeBaseline(ctx context.Context, b *Baseline) error {
	run := func(arg string) ([]byte, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, b.Path, arg).CombinedOutput()
		out = ansiRe.ReplaceAll(out, nil)
		if err != nil {
			return out, fmt.Errorf("%s %s: %v: %s", b.Path, arg, err, lastLines(out, 3))
		}
		return out, nil
	}
	help, err := run("--help")
	if err != nil {
		return err
	}
	if !bytes.Contains(help, []byte("--benchmark")) {
		return fmt.Errorf("%s --help lists no --benchmark: not a cpuminer", b.Path)
	}
	b.Args = BaselineFlags(help)
	ver, err := run("--version")
	if err != nil {
		return err
	}
	b.Version, b.Features = parseMinerVersion(ver)
	return nil
}

// parseMinerVersion reads a cpuminer's --version output: its name and
// version ("cpuminer-opt 26.1", "cpuminer 2.5.1") and the instruction
// sets its build uses (cpuminer-opt's "SW features:", pooler's
// "features:").
func parseMinerVersion(out []byte) (version, features string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case version == "" && strings.Contains(line, "cpuminer"):
			version = strings.TrimSpace(strings.Trim(line, "*"))
		case strings.HasPrefix(line, "SW features:"):
			features = strings.Join(strings.Fields(strings.TrimPrefix(line, "SW features:")), " ")
		case features == "" && strings.HasPrefix(line, "features:"):
			features = strings.Join(strings.Fields(strings.TrimPrefix(line, "features:")), " ")
		}
	}
	return version, features
}

// runBaseline runs b for d with n threads and returns its rate. b has been
// probed (probeBaseline).
func runBaseline(ctx context.Context, b *Baseline, n int, d time.Duration) (float64, error) {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	args := append([]string{"--benchmark", "-a", "sha256d", "-t", strconv.Itoa(n)}, b.Args...)
	cmd := exec.CommandContext(cctx, b.Path, args...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// SIGINT, not SIGKILL: cpuminer then exits on its own, its output
	// complete.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 3 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	text := ansiRe.ReplaceAll(out.Bytes(), nil)
	if cctx.Err() == nil && err != nil { // it ended on its own: a failure
		return 0, fmt.Errorf("%v: %s", err, lastLines(text, 3))
	}
	return ParseMinerTotal(text)
}

func lastLines(p []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(p)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// syncBuffer is a bytes.Buffer safe for the two copying goroutines of
// exec.Cmd.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// WriteText writes the report as a table: MH/s per kernel (rows) and
// worker count, with the ratio to each baseline.
func (rep *HeaderReport) WriteText(w io.Writer) error {
	h := &rep.Header
	fmt.Fprintf(w, "powchain bench --mode sha256d: Bitcoin headers (80 bytes, double SHA-256)\n")
	fmt.Fprintf(w, "CPU: %s, %d logical CPUs, %s; %s %s\n", orUnknown(h.CPU.Model), h.CPU.Threads,
		strings.Join(h.CPU.Features, " "), h.Version, h.GoVersion)
	fmt.Fprintf(w, "%d rounds of %v samples, cells round-robin; medians\n", h.Rounds, time.Duration(h.RateTime*float64(time.Second)))
	for _, b := range h.Baselines {
		fmt.Fprintf(w, "baseline %s: %s (%s) built for: %s; run with: --benchmark -a sha256d -t N %s\n",
			b.Name, b.Path, orUnknown(b.Version), orUnknown(b.Features), strings.Join(b.Args, " "))
	}
	if h.Stopped != "" {
		fmt.Fprintf(w, "stopped early: %s\n", h.Stopped)
	}
	for _, n := range h.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "kernel\tworkers\tMH/s\tmin\tmax\tsamples\t"
	for _, b := range h.Baselines {
		head += "vs " + b.Name + "\t"
	}
	fmt.Fprintln(tw, strings.TrimSuffix(head, "\t"))
	for _, r := range rep.Records {
		lo, hi := 0.0, 0.0
		if len(r.Rates) > 0 {
			lo, hi = slices.Min(r.Rates), slices.Max(r.Rates)
		}
		name := r.Who
		if r.Baseline {
			name += " (baseline)"
		}
		row := fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%d\t", name, r.Workers, mhs(r.Median), mhs(lo), mhs(hi), len(r.Rates))
		for _, b := range h.Baselines {
			row += ratio(r.VsBaseline[b.Name]) + "\t"
		}
		fmt.Fprintln(tw, strings.TrimSuffix(row, "\t"))
	}
	return tw.Flush()
}

func mhs(x float64) string {
	if x == 0 {
		return "-"
	}
	return strconv.FormatFloat(x/1e6, 'f', 2, 64)
}

// ReadHeaderJSON reads a report HeaderReport.WriteJSON wrote, so that its
// table and chart can be drawn again.
func ReadHeaderJSON(r io.Reader) (*HeaderReport, error) {
	data, err := readReport(r)
	if err != nil {
		return nil, err
	}
	var rep HeaderReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("bench: reading a report: %w", err)
	}
	if rep.Header.Tool != "powchain bench" || rep.Header.Mode != "sha256d" {
		return nil, fmt.Errorf("bench: not a powchain bench --mode sha256d report (tool %q, mode %q)", rep.Header.Tool, rep.Header.Mode)
	}
	return &rep, nil
}

// WriteJSON writes the whole report.
func (rep *HeaderReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteCSV writes one row per cell.
func (rep *HeaderReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"mode", "who", "baseline", "workers", "median_hps", "samples"}
	for _, b := range rep.Header.Baselines {
		head = append(head, "vs_"+b.Name)
	}
	cw.Write(head)
	for _, r := range rep.Records {
		row := []string{"sha256d", r.Who, strconv.FormatBool(r.Baseline), strconv.Itoa(r.Workers), num(r.Median), strconv.Itoa(len(r.Rates))}
		for _, b := range rep.Header.Baselines {
			row = append(row, opt(r.VsBaseline[b.Name]))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// chart is the bar chart of MH/s by kernel or baseline (groups) and worker
// count (bars).
func (rep *HeaderReport) chart() (*plot.Plot, error) {
	var whos []string
	var workers []int
	top := 0.0
	for _, r := range rep.Records {
		if r.Median == 0 {
			continue
		}
		name := r.Who
		if !slices.Contains(whos, name) {
			whos = append(whos, name)
		}
		if !slices.Contains(workers, r.Workers) {
			workers = append(workers, r.Workers)
		}
		top = max(top, r.Median/1e6)
	}
	if len(whos) == 0 {
		return nil, ErrNoData
	}
	if err := goFonts(); err != nil {
		return nil, err
	}
	slices.Sort(workers)
	p := newPlot("sha256d on Bitcoin headers: hash rate by kernel and workers", "kernel or outside miner", "MH/s (median)")
	p.NominalX(whos...)
	p.X.Tick.Label.Font = font.From(sans, 8)
	p.Legend.Top, p.Legend.Left = true, false
	group := (panelW - 90) / vg.Length(len(whos)) * 0.8
	bar := group / vg.Length(len(workers))
	for j, w := range workers {
		vals := make(plotter.Values, len(whos))
		for _, r := range rep.Records {
			if r.Workers == w && r.Median > 0 {
				vals[slices.Index(whos, r.Who)] = r.Median / 1e6
			}
		}
		b, err := plotter.NewBarChart(vals, bar)
		if err != nil {
			return nil, err
		}
		b.Color = colorOf(j)
		b.LineStyle.Width = 0
		b.Offset = (vg.Length(j) - vg.Length(len(workers)-1)/2) * bar
		p.Add(b)
		p.Legend.Add(plural(w, "worker"), b)
	}
	p.Y.Min, p.Y.Max = 0, top*1.3
	p.X.Min, p.X.Max = -0.6, float64(len(whos))-0.4
	return p, nil
}

// WriteSVG draws the chart as SVG.
func (rep *HeaderReport) WriteSVG(w io.Writer) error {
	p, err := rep.chart()
	if err != nil {
		return err
	}
	c := vgsvg.New(panelW, panelH)
	p.Draw(draw.New(c))
	_, err = c.WriteTo(w)
	return err
}

// WritePlots writes the chart into dir as sha256d.svg and sha256d.png.
func (rep *HeaderReport) WritePlots(dir string) ([]string, error) {
	p, err := rep.chart()
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, ext := range []string{".svg", ".png"} {
		path := dir + "/sha256d" + ext
		if err := p.Save(panelW, panelH, path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
