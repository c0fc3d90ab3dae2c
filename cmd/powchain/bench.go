package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/powchain/powchain/bench"
	"github.com/powchain/powchain/hasher"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "measure hash rates and time to solution across difficulties, kernels, worker counts and block sizes",
		examples: []string{
			"powchain bench --quick   # this machine's figures in under 30 s",
			"powchain bench --hashers shani,avx2,generic --workers 1 --difficulties 1-5",
			"powchain bench --quick --json out.json --svg chart.svg",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			o := newBenchOptions()
			o.register(fs)
			return func(ctx context.Context, e env, args []string) error {
				o.command = commandLine(fs)
				o.set = map[string]bool{}
				fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
				return runBench(ctx, e, o, args)
			}
		},
	})
}

// benchOptions are the flags of powchain bench.
type benchOptions struct {
	difficulties intList
	workers      intList
	txs          intList
	hashers      string
	blocks       int
	seed         int64
	rateTime     time.Duration
	rateSamples  int
	cellLimit    time.Duration // --duration
	timeLimit    time.Duration
	openssl      bool
	baseline     string
	refTime      time.Duration
	jsonOut      string
	csvOut       string
	svgOut       string
	plotDir      string
	progress     string
	quick        bool
	from         string
	profile      profileFlags
	mode         string

	command string          // the command line, for the report header
	set     map[string]bool // the flags given on the command line
}

// applyQuick gives the flags --quick sets the values of a run of under 30
// seconds, unless they were given on the command line: throughput of every
// kernel at every worker count for 0.5 s, and solves up to difficulty 4,
// three blocks each. A time limit of 25 s ends it in any case.
func (o *benchOptions) applyQuick() {
	quick := map[string]func(){
		"difficulties": func() { o.difficulties = intList{1, 2, 3, 4} },
		"blocks":       func() { o.blocks = 3 },
		"rate-time":    func() { o.rateTime = 500 * time.Millisecond },
		"ref-time":     func() { o.refTime = time.Second },
		"time-limit":   func() { o.timeLimit = 25 * time.Second },
	}
	for name, set := range quick {
		if !o.set[name] {
			set()
		}
	}
}

func newBenchOptions() *benchOptions {
	o := &benchOptions{
		difficulties: intList{1, 2, 3, 4, 5, 6},
		txs:          intList{1},
	}
	for w := 1; w <= runtime.NumCPU(); w++ {
		o.workers = append(o.workers, w)
	}
	return o
}

func (o *benchOptions) register(fs *flag.FlagSet) {
	fs.Var(&o.difficulties, "difficulties", "`LIST` of difficulties (leading hex zeros) to solve: numbers and ranges, e.g. 1-6 or 2,4,6")
	fs.StringVar(&o.hashers, "hashers", "all", "kernels: `LIST` all (every kernel this CPU runs), auto, or names from "+strings.Join(hasher.Names(), ","))
	fs.Var(&o.workers, "workers", "worker counts: a `LIST` of numbers and ranges; the default is 1 to the CPU count")
	fs.Var(&o.txs, "txs", "transactions per block: a `LIST`, e.g. 1,10,100 (1 transaction: a 240-byte block, 4 compressions per nonce)")
	fs.IntVar(&o.blocks, "blocks", 5, "different blocks mined per solve cell")
	fs.Int64Var(&o.seed, "seed", 1, "selects the blocks (previous_hash, timestamps): the same seed mines the same blocks")
	fs.DurationVar(&o.rateTime, "rate-time", time.Second, "length of each throughput cell (a target never met, every worker busy); 0 skips throughput")
	fs.IntVar(&o.rateSamples, "rate-samples", 5, "samples (different blocks) per throughput cell")
	fs.DurationVar(&o.cellLimit, "duration", 0, "at most this long per solve cell: the block being mined is then abandoned (0: no limit)")
	fs.DurationVar(&o.timeLimit, "time-limit", 0, "at most this long for the whole run: the cells not measured by then are skipped (0: no limit)")
	fs.BoolVar(&o.openssl, "openssl", true, "measure the reference, openssl speed -evp sha256 on 16 KiB, when openssl is on the PATH")
	fs.StringVar(&o.baseline, "baseline", "none", "python: also run the seed's Python loop (python3) for --ref-time per block size; "+
		"with --mode sha256d, NAME=PATH[,NAME=PATH]: also run PATH --benchmark -a sha256d -t N (cpuminer-opt, pooler's cpuminer) like each cell")
	fs.StringVar(&o.mode, "mode", "json", "json: the tutorial's JSON blocks; sha256d: Bitcoin headers (80 bytes, double SHA-256), MH/s per kernel and worker count")
	fs.DurationVar(&o.refTime, "ref-time", 2*time.Second, "length of each reference measurement (openssl rounds up to whole seconds)")
	fs.StringVar(&o.jsonOut, "json", "", "write every measurement as JSON to `FILE`")
	fs.StringVar(&o.csvOut, "csv", "", "write one CSV row per cell to `FILE`")
	fs.StringVar(&o.svgOut, "svg", "", "draw the charts into the SVG `FILE`")
	fs.StringVar(&o.plotDir, "plot", "", "write each chart as SVG and PNG into `DIR`")
	fs.StringVar(&o.progress, "progress", "auto", "status line on stderr: `MODE` auto (when stderr is a terminal), always or never")
	fs.StringVar(&o.from, "from", "", "measure nothing: read the report of an earlier run from this --json `FILE` and print and draw it")
	fs.BoolVar(&o.quick, "quick", false, "a run of under 30 s: --difficulties 1-4 --blocks 3 --rate-time 0.5s --ref-time 1s --time-limit 25s, each unless given")
	o.profile.register(fs)
}

// intList is a flag of non-negative integers given as a comma-separated
// list of numbers and ranges: "1-6", "1,2,4", "1-3,8".
type intList []int

// maxListLen keeps a range like 1-1000000000 from becoming a huge matrix.
const maxListLen = 256

func (l *intList) String() string {
	if l == nil {
		return ""
	}
	return formatIntList(*l)
}

func (l *intList) Set(s string) error {
	v, err := parseIntList(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// parseIntList parses a list of numbers and ranges, keeping the order
// given and dropping repeats.
func parseIntList(s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty list")
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("empty item in %q", s)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parseCount(lo, item)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseCount(hi, item); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %q runs backwards", item)
			}
		}
		if b-a >= maxListLen {
			return nil, fmt.Errorf("range %q has more than %d values", item, maxListLen)
		}
		for n := a; n <= b; n++ {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		if len(out) > maxListLen {
			return nil, fmt.Errorf("more than %d values", maxListLen)
		}
	}
	return out, nil
}

func parseCount(s, item string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a number or a range of numbers (like 3 or 1-6)", item)
	}
	return n, nil
}

// formatIntList writes a list the way parseIntList reads it, with runs
// of consecutive numbers as ranges: 1-6, or 1,2,4.
func formatIntList(xs []int) string {
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		case j > i:
			parts = append(parts, strconv.Itoa(xs[i]), strconv.Itoa(xs[j]))
		default:
			parts = append(parts, strconv.Itoa(xs[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// parseHashers resolves --hashers: all, auto, or a comma-separated list.
// Every kernel runs once: a second name of a kernel already listed
// (shani4 after shani) is dropped.
func parseHashers(s string) ([]hasher.Hasher, error) {
	return parseHashersBy(s, hasher.Canonical)
}

// parseHashersBy is parseHashers with the kernels told apart by
// canonical (hasher.HeaderCanonical for header mode).
func parseHashersBy(s string, canonical func(string) string) ([]hasher.Hasher, error) {
	var hs []hasher.Hasher
	switch strings.TrimSpace(s) {
	case "all":
		hs = hasher.Available()
	case "", "auto":
		return []hasher.Hasher{hasher.Auto()}, nil
	default:
		for _, name := range strings.Split(s, ",") {
			h, err := hasher.Lookup(strings.TrimSpace(name))
			if err != nil {
				return nil, usagef("--hashers: %v", err)
			}
			hs = append(hs, h)
		}
	}
	var out []hasher.Hasher
	seen := map[string]bool{}
	for _, h := range hs {
		if c := canonical(h.Name()); !seen[c] {
			seen[c] = true
			out = append(out, h)
		}
	}
	return out, nil
}

// commandLine reconstructs the command line from the flags that were set.
func commandLine(fs *flag.FlagSet) string {
	parts := []string{"powchain bench"}
	fs.Visit(func(f *flag.Flag) { parts = append(parts, "--"+f.Name+"="+f.Value.String()) })
	return strings.Join(parts, " ")
}

// runBench runs the benchmark matrix and prints its tables on stdout;
// progress goes to stderr. When ctx is cancelled it still prints and
// writes what was measured, then returns ctx's error.
func runBench(ctx context.Context, e env, o *benchOptions, args []string) (err error) {
	if len(args) > 0 {
		return usagef("bench takes no arguments, got %q", args)
	}
	if o.quick {
		o.applyQuick()
	}
	if o.from != "" {
		if err := modeFromReport(o); err != nil {
			return err
		}
	}
	switch o.mode {
	case "json":
	case "sha256d":
		return runBenchHeader(ctx, e, o)
	default:
		return usagef("--mode must be json or sha256d, got %q", o.mode)
	}
	hs, err := parseHashers(o.hashers)
	if err != nil {
		return err
	}
	python := false
	switch o.baseline {
	case "", "none":
	case "python":
		python = true
	default:
		return usagef("--baseline must be none or python, got %q", o.baseline)
	}
	if o.blocks < 1 {
		return usagef("--blocks must be at least 1, got %d", o.blocks)
	}
	if o.rateSamples < 1 {
		return usagef("--rate-samples must be at least 1, got %d", o.rateSamples)
	}
	if err := o.checkWorkers(); err != nil {
		return err
	}
	live, err := wantProgress(o.progress, e.stderr)
	if err != nil {
		return err
	}
	cfg := bench.Config{
		Difficulties: o.difficulties,
		Hashers:      hs,
		Workers:      o.workers,
		Txs:          o.txs,
		Blocks:       o.blocks,
		Seed:         o.seed,
		RateTime:     o.rateTime,
		RateSamples:  o.rateSamples,
		CellLimit:    o.cellLimit,
		TimeLimit:    o.timeLimit,
		OpenSSL:      o.openssl,
		Python:       python,
		RefTime:      o.refTime,
		Version:      strings.TrimSuffix(version(), " "+runtime.Version()),
		Command:      o.command,
	}

	return benchReport(ctx, e, o, bench.ReadJSON, func() (*bench.Report, error) {
		return measure(ctx, e, o, cfg, live)
	})
}

// benchWriter is what bench writes of either mode's report.
type benchWriter interface {
	WriteText(io.Writer) error
	WriteJSON(io.Writer) error
	WriteCSV(io.Writer) error
	WriteSVG(io.Writer) error
	WritePlots(dir string) ([]string, error)
}

// benchReport is the part of bench both modes share: create the output
// files first (a bad path fails now, not after the run), start the
// profiles, take the report from --from with read or else from run, and
// print and write it (writeReport). A run that fails with no report at all
// returns its error; one that stops early writes what it measured.
func benchReport[T any, R interface {
	*T
	benchWriter
}](ctx context.Context, e env, o *benchOptions, read func(io.Reader) (R, error), run func() (R, error)) (err error) {
	outs, err := o.createOutputs()
	defer closeOutputs(outs)
	if err != nil {
		return err
	}

	stop, err := o.profile.start()
	if err != nil {
		return err
	}
	defer stopProfiles(stop, &err)

	var rep R
	var runErr error
	if o.from != "" {
		if rep, err = readFrom(o.from, read); err != nil {
			return err
		}
	} else {
		rep, runErr = run()
	}
	if errors.Is(runErr, bench.ErrConfig) {
		return badInput(runErr)
	}
	if rep == nil {
		return runErr
	}
	return writeReport(ctx, e, o, outs, rep, runErr)
}

// checkWorkers checks --workers: every count at least 1.
func (o *benchOptions) checkWorkers() error {
	for _, w := range o.workers {
		if w < 1 {
			return usagef("--workers: a worker count must be at least 1, got %d", w)
		}
	}
	return nil
}

// createOutputs creates the --json, --csv and --svg files and the --plot
// directory before any measuring, so that a bad path fails at once. The
// files it returns, even with an error, are closed by closeOutputs.
func (o *benchOptions) createOutputs() (map[string]*os.File, error) {
	outs := map[string]*os.File{}
	for flagName, path := range map[string]string{"json": o.jsonOut, "csv": o.csvOut, "svg": o.svgOut} {
		if path == "" {
			continue
		}
		f, err := os.Create(path)
		if err != nil {
			return outs, usagef("--%s: %v", flagName, err)
		}
		outs[flagName] = f
	}
	if o.plotDir != "" {
		if err := os.MkdirAll(o.plotDir, 0o755); err != nil {
			return outs, usagef("--plot: %v", err)
		}
	}
	return outs, nil
}

// closeOutputs closes the output files not yet written and closed.
func closeOutputs(outs map[string]*os.File) {
	for _, f := range outs {
		f.Close()
	}
}

// readFrom reads the --from report at path with read.
func readFrom[R any](path string, read func(io.Reader) (R, error)) (R, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero R
		return zero, usagef("--from: %v", err)
	}
	defer f.Close()
	rep, err := read(f)
	if err != nil {
		return rep, usagef("--from: %s: %v", path, err)
	}
	return rep, nil
}

// modeFromReport sets --mode from the report --from names: a header-mode
// report is drawn as one. A --mode given that disagrees with the report is
// an error.
func modeFromReport(o *benchOptions) error {
	data, err := os.ReadFile(o.from)
	if err != nil {
		return usagef("--from: %v", err)
	}
	mode := "json"
	if bench.ReportMode(data) == "sha256d" {
		mode = "sha256d"
	}
	if mode != o.mode && flagSet(o.command, "mode") {
		return usagef("--from: %s is a --mode %s report, but --mode %s was given", o.from, mode, o.mode)
	}
	o.mode = mode
	return nil
}

// flagSet reports whether the command line commandLine rebuilt sets the
// flag called name.
func flagSet(command, name string) bool {
	for _, part := range strings.Fields(command) {
		if f, ok := strings.CutPrefix(part, "--"); ok {
			if f, _, _ = strings.Cut(f, "="); f == name {
				return true
			}
		}
	}
	return false
}

// measure prints the plan and runs it, with a progress line when live.
func measure(ctx context.Context, e env, o *benchOptions, cfg bench.Config, live bool) (*bench.Report, error) {
	// The plan first: how many cells and about how long.
	plan, err := bench.Estimate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stderr, "bench: %d cells (%s), about %v", plan.Cells, planShape(cfg), roundDuration(plan.Estimate))
	if !o.quick {
		fmt.Fprint(e.stderr, "; powchain bench --quick takes under 30 s")
	}
	fmt.Fprintln(e.stderr)

	if live {
		cfg.Progress = func(s bench.Status) { fmt.Fprint(e.stderr, "\r\033[K"+statusText(s)) }
	}
	rep, err := bench.Run(ctx, cfg)
	if live {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	return rep, err
}

// writeReport prints the report's tables and writes the files asked for.
func writeReport(ctx context.Context, e env, o *benchOptions, outs map[string]*os.File, rep benchWriter, runErr error) error {
	if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	write := func(flagName string, w func(io.Writer) error) error {
		f := outs[flagName]
		if f == nil {
			return nil
		}
		if err := w(f); err != nil {
			return fmt.Errorf("--%s: %w", flagName, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("--%s: %w", flagName, err)
		}
		delete(outs, flagName)
		fmt.Fprintf(e.stderr, "wrote %s\n", f.Name())
		return nil
	}
	noData := func(err error) error {
		if errors.Is(err, bench.ErrNoData) {
			return nil // an empty chart file for a run stopped before any cell
		}
		return err
	}
	errs := []error{
		write("json", rep.WriteJSON),
		write("csv", rep.WriteCSV),
		write("svg", func(w io.Writer) error { return noData(rep.WriteSVG(w)) }),
	}
	if o.plotDir != "" {
		paths, err := rep.WritePlots(o.plotDir)
		if err = noData(err); err != nil {
			errs = append(errs, fmt.Errorf("--plot: %w", err))
		}
		if len(paths) > 0 {
			fmt.Fprintf(e.stderr, "wrote %s\n", strings.Join(paths, " "))
		}
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; the results above are what was measured: %w", runErr)
		}
		return runErr
	}
	return errors.Join(errs...)
}

// planShape says what the run's matrix is made of.
func planShape(c bench.Config) string {
	var parts []string
	plural := func(n int, what string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, what)
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	parts = append(parts, plural(len(c.Hashers), "kernel"), plural(len(c.Workers), "worker count"), plural(len(c.Txs), "block size"))
	if len(c.Difficulties) > 0 {
		parts = append(parts, fmt.Sprintf("difficulties %s", formatIntList(c.Difficulties)))
	}
	return strings.Join(parts, " × ")
}

// roundDuration rounds an estimate to what is worth saying.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Minute:
		return d.Round(time.Minute)
	case d >= 10*time.Second:
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// statusText is the one-line progress display: cells done of all, what
// runs now, time elapsed and left.
func statusText(s bench.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d cells done · %s", s.Step-1, s.Steps, s.Phase)
	if s.Hasher != "" {
		fmt.Fprintf(&b, " %s workers=%d txs=%d", s.Hasher, s.Workers, s.Txs)
	}
	if s.Difficulty > 0 {
		fmt.Fprintf(&b, " difficulty=%d", s.Difficulty)
	}
	if s.Blocks > 0 && s.Block > 0 {
		fmt.Fprintf(&b, " %d/%d", s.Block, s.Blocks)
	}
	if s.Hashes > 0 {
		fmt.Fprintf(&b, " · %.3g hashes", float64(s.Hashes))
	}
	fmt.Fprintf(&b, " · %v elapsed", s.Elapsed.Round(time.Second))
	if s.ETA >= 0 {
		fmt.Fprintf(&b, " · about %v left", s.ETA.Round(time.Second))
	} else {
		fmt.Fprint(&b, " · time left not known yet")
	}
	return b.String()
}
