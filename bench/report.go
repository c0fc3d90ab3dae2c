package bench

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/powchain/powchain/hasher"
)

// Report is what Run measured: a header describing the machine and the
// run, and one record per cell.
type Report struct {
	Header  Header   `json:"header"`
	Records []Record `json:"records"`

	startup map[cellKey]float64 // start-up seconds per kernel, workers, txs
}

// Header describes the machine, the build and the run, so that reports
// from different machines and commits can be compared.
type Header struct {
	Tool       string         `json:"tool"`
	Version    string         `json:"powchain_version"`
	Command    string         `json:"command,omitempty"`
	GoVersion  string         `json:"go_version"`
	GOOS       string         `json:"goos"`
	GOARCH     string         `json:"goarch"`
	OSRelease  string         `json:"os_release,omitempty"` // the operating system kernel's release (uname -r), where known
	GOMAXPROCS int            `json:"gomaxprocs"`
	CPU        hasher.CPUInfo `json:"cpu"`
	Assembly   bool           `json:"assembly"`
	Kernels    []string       `json:"kernels_available"`
	Start      time.Time      `json:"start"`
	Seconds    float64        `json:"seconds"`
	// Stopped is "interrupted" or "time limit" when the run did not
	// measure every cell; empty when it did.
	Stopped string            `json:"stopped,omitempty"`
	Config  ConfigInfo        `json:"config"`
	OpenSSL *OpenSSLRef       `json:"openssl,omitempty"`
	Python  []PythonRef       `json:"python,omitempty"`
	Notes   []string          `json:"notes,omitempty"`
	Modes   map[string]string `json:"modes"`
}

// ConfigInfo is the run's configuration as the header records it.
type ConfigInfo struct {
	Difficulties []int    `json:"difficulties"`
	Hashers      []string `json:"hashers"`
	Workers      []int    `json:"workers"`
	Txs          []int    `json:"txs"`
	Blocks       int      `json:"blocks"`
	Seed         int64    `json:"seed"`
	RateTime     float64  `json:"rate_time_s"`
	RateSamples  int      `json:"rate_samples"`
	CellLimit    float64  `json:"cell_limit_s,omitempty"`
	TimeLimit    float64  `json:"time_limit_s,omitempty"`
}

// modes explains the two kinds of record; the header carries it.
var modes = map[string]string{
	"throughput": "a target no hash meets, mined for a fixed time per sample: the kernel's steady hash rate with every worker busy; " +
		"use these rates to compare kernels and worker counts",
	"solve": "the lowest nonce of each block at the difficulty, as powchain mine finds it: time to solution and hashes tried; " +
		"its hash rate includes the start-up of every Mine call, which dominates at low difficulty (startup_bound)",
}

// Record is one cell: one kernel, worker count and block size, and for
// solve records one difficulty. Rates are medians over the cell's samples
// (blocks) with their min and max. Fields that do not apply, or that were
// not measured, are left out of the JSON (and empty in the CSV).
type Record struct {
	Mode       string `json:"mode"` // "throughput" or "solve"
	Hasher     string `json:"hasher"`
	Workers    int    `json:"workers"`
	Txs        int    `json:"txs"`
	Difficulty int    `json:"difficulty,omitempty"` // hex zeros; solve only

	// MessageBytes is the length of the block's canonical JSON with a
	// 7-digit nonce; CompressionsPerHash the SHA-256 compressions of the
	// whole message per nonce, averaged over the nonces hashed.
	MessageBytes        int     `json:"message_bytes"`
	CompressionsPerHash float64 `json:"compressions_per_hash"`

	Blocks     int     `json:"blocks"`               // blocks (solve) or samples (throughput) started
	Solved     int     `json:"solved,omitempty"`     // solve: blocks solved
	Unfinished int     `json:"unfinished,omitempty"` // solve: blocks abandoned at a limit
	Hashes     uint64  `json:"hashes"`               // hashed in all samples
	Seconds    float64 `json:"seconds"`              // wall time of all samples

	// Solve: 16^difficulty, the mean number of nonces until the first
	// valid one, and what the solved blocks took (the engine's count, so
	// with several workers a little past the solution).
	ExpectedHashes    float64 `json:"expected_hashes,omitempty"`
	TriedMean         float64 `json:"hashes_tried_mean,omitempty"`
	TriedMedian       float64 `json:"hashes_tried_median,omitempty"`
	TriedOverExpected float64 `json:"tried_over_expected,omitempty"`

	RateMedian float64 `json:"hashes_per_s_median"`
	RateMin    float64 `json:"hashes_per_s_min"`
	RateMax    float64 `json:"hashes_per_s_max"`
	CompMedian float64 `json:"compressions_per_s_median"`
	CompMin    float64 `json:"compressions_per_s_min"`
	CompMax    float64 `json:"compressions_per_s_max"`

	// Solve: time to solution over the solved blocks.
	TimeMean   float64 `json:"time_mean_s,omitempty"`
	TimeMedian float64 `json:"time_median_s,omitempty"`
	TimeP90    float64 `json:"time_p90_s,omitempty"`

	// Startup is the median time of a Mine call that succeeds at once
	// (workers started and collected, layout prepared); StartupShare its
	// part of the median time to solution; StartupBound is set when that
	// is over 10%, where the solve hash rate says more about start-up
	// than about the kernel.
	Startup      float64 `json:"startup_s,omitempty"`
	StartupShare float64 `json:"startup_share,omitempty"`
	StartupBound bool    `json:"startup_bound,omitempty"`

	// Scaling is the median rate over the same cell's with one worker,
	// Efficiency the scaling per worker (workers beyond the logical CPUs
	// not counted). Both need a one-worker cell in the matrix.
	Scaling    float64 `json:"scaling,omitempty"`
	Efficiency float64 `json:"efficiency,omitempty"`

	// VsOpenSSL is the median compression rate over OpenSSL's on as many
	// cores as there are workers (up to the logical CPUs); VsPython the
	// median hash rate over the seed's Python loop on a block of the same
	// size.
	VsOpenSSL float64 `json:"vs_openssl,omitempty"`
	VsPython  float64 `json:"vs_python,omitempty"`

	Samples []Sample `json:"samples"`
}

// Sample is one block (solve) or one timed run (throughput).
type Sample struct {
	Block        int     `json:"block"`           // index in the workload
	Nonce        *uint64 `json:"nonce,omitempty"` // solve: the nonce found
	Unfinished   bool    `json:"unfinished,omitempty"`
	Hashes       uint64  `json:"hashes"`
	Seconds      float64 `json:"seconds"`
	Compressions float64 `json:"compressions"`
}

// used reports whether the sample counts in the record's statistics:
// every throughput sample, and the solved blocks of a solve cell.
func (r *Record) used(s *Sample) bool { return r.Mode == "throughput" || s.Nonce != nil }

// rates returns the hash rate of each sample that counts.
func (r *Record) rates() []float64 {
	var xs []float64
	for i := range r.Samples {
		if s := &r.Samples[i]; r.used(s) && s.Seconds > 0 {
			xs = append(xs, float64(s.Hashes)/s.Seconds)
		}
	}
	return xs
}

// summarize computes the record's statistics from its samples.
func (r *Record) summarize() {
	var comp float64
	var rates, crates, times, tried []float64
	r.Hashes, r.Seconds, r.Solved, r.Unfinished = 0, 0, 0, 0
	for i := range r.Samples {
		s := &r.Samples[i]
		r.Hashes += s.Hashes
		r.Seconds += s.Seconds
		comp += s.Compressions
		if s.Unfinished {
			r.Unfinished++
		}
		if !r.used(s) || s.Seconds <= 0 {
			continue
		}
		if s.Nonce != nil {
			r.Solved++
		}
		rates = append(rates, float64(s.Hashes)/s.Seconds)
		crates = append(crates, s.Compressions/s.Seconds)
		times = append(times, s.Seconds)
		tried = append(tried, float64(s.Hashes))
	}
	if r.Hashes > 0 {
		r.CompressionsPerHash = comp / float64(r.Hashes)
	}
	rs, cs := Summarize(rates), Summarize(crates)
	r.RateMedian, r.RateMin, r.RateMax = rs.Median, rs.Min, rs.Max
	r.CompMedian, r.CompMin, r.CompMax = cs.Median, cs.Min, cs.Max
	if r.Mode != "solve" {
		return
	}
	r.ExpectedHashes = math.Pow(16, float64(r.Difficulty))
	ts, hs := Summarize(times), Summarize(tried)
	r.TimeMean, r.TimeMedian, r.TimeP90 = ts.Mean, ts.Median, ts.P90
	r.TriedMean, r.TriedMedian = hs.Mean, hs.Median
	r.TriedOverExpected = hs.Mean / r.ExpectedHashes
}

// derive computes every record's statistics and the fields that relate
// records to each other and to the references.
func (rep *Report) derive() {
	h := &rep.Header
	cpus := h.CPU.Threads
	type base struct {
		mode, hasher    string
		txs, difficulty int
	}
	one := map[base]float64{}
	for i := range rep.Records {
		r := &rep.Records[i]
		r.summarize()
		if r.Workers == 1 {
			one[base{r.Mode, r.Hasher, r.Txs, r.Difficulty}] = r.RateMedian
		}
	}
	python := map[int]float64{}
	for _, p := range h.Python {
		python[p.Txs] = p.HashesPerSec
	}
	for i := range rep.Records {
		r := &rep.Records[i]
		r.Startup = rep.startup[cellKey{hasher: r.Hasher, workers: r.Workers, txs: r.Txs}]
		if r.Mode == "solve" && r.Startup > 0 && r.TimeMedian > 0 {
			r.StartupShare = r.Startup / r.TimeMedian
			r.StartupBound = r.StartupShare > 0.1
		}
		if r1, ok := one[base{r.Mode, r.Hasher, r.Txs, r.Difficulty}]; ok {
			r.Scaling = Scaling(r.RateMedian, r1)
			r.Efficiency = Efficiency(r.Scaling, r.Workers, cpus)
		}
		if h.OpenSSL != nil && h.OpenSSL.CompressionsPerSec > 0 {
			cores := r.Workers
			if cpus > 0 {
				cores = min(cores, cpus)
			}
			r.VsOpenSSL = r.CompMedian / (h.OpenSSL.CompressionsPerSec * float64(cores))
		}
		if p := python[r.Txs]; p > 0 {
			r.VsPython = r.RateMedian / p
		}
	}
}

// ReadJSON reads a report WriteJSON wrote, with its derived statistics as
// they were written, so that its tables and charts can be drawn again.
// A report of --mode sha256d is refused (ErrHeaderReport): read it with
// ReadHeaderJSON.
func ReadJSON(r io.Reader) (*Report, error) {
	var rep Report
	data, err := readReport(r)
	if err != nil {
		return nil, err
	}
	if ReportMode(data) == "sha256d" {
		return nil, ErrHeaderReport
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("bench: reading a report: %w", err)
	}
	if t := rep.Header.Tool; t != "powchain bench" && (t != "" || len(rep.Records) == 0) {
		return nil, fmt.Errorf("bench: not a powchain bench report (tool %q)", rep.Header.Tool)
	}
	return &rep, nil
}

// ErrHeaderReport is returned by ReadJSON for the report of a --mode
// sha256d run, which ReadHeaderJSON reads.
var ErrHeaderReport = errors.New("bench: a --mode sha256d report (Bitcoin headers), not a --mode json one")

// maxReportBytes bounds the report files read back: a real one is a few
// hundred kilobytes.
const maxReportBytes = 64 << 20

func readReport(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bench: reading a report: %w", err)
	}
	if len(data) > maxReportBytes {
		return nil, fmt.Errorf("bench: reading a report: over %d MiB, no report is that big", maxReportBytes>>20)
	}
	return data, nil
}

// ReportMode returns the mode a report written by WriteJSON records in
// its header: "sha256d" for a header-mode run, "" for a JSON-mode one
// (whose header has no mode) or for text that is no report.
func ReportMode(data []byte) string {
	var probe struct {
		Header struct {
			Mode string `json:"mode"`
		} `json:"header"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return ""
	}
	return probe.Header.Mode
}

// WriteJSON writes the report as one indented JSON object: {"header":
// ..., "records": [...]}.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// csvColumns are the CSV columns: the record's summary fields (not its
// samples) and, on every row, the machine, so that rows from several runs
// can be concatenated.
var csvColumns = []struct {
	name string
	val  func(*Report, *Record) string
}{
	{"mode", func(_ *Report, r *Record) string { return r.Mode }},
	{"hasher", func(_ *Report, r *Record) string { return r.Hasher }},
	{"workers", func(_ *Report, r *Record) string { return strconv.Itoa(r.Workers) }},
	{"txs", func(_ *Report, r *Record) string { return strconv.Itoa(r.Txs) }},
	{"difficulty", func(_ *Report, r *Record) string { return optInt(r.Difficulty) }},
	{"message_bytes", func(_ *Report, r *Record) string { return strconv.Itoa(r.MessageBytes) }},
	{"compressions_per_hash", func(_ *Report, r *Record) string { return num(r.CompressionsPerHash) }},
	{"blocks", func(_ *Report, r *Record) string { return strconv.Itoa(r.Blocks) }},
	{"solved", func(_ *Report, r *Record) string { return solveInt(r, r.Solved) }},
	{"unfinished", func(_ *Report, r *Record) string { return solveInt(r, r.Unfinished) }},
	{"hashes", func(_ *Report, r *Record) string { return strconv.FormatUint(r.Hashes, 10) }},
	{"seconds", func(_ *Report, r *Record) string { return num(r.Seconds) }},
	{"expected_hashes", func(_ *Report, r *Record) string { return opt(r.ExpectedHashes) }},
	{"hashes_tried_mean", func(_ *Report, r *Record) string { return opt(r.TriedMean) }},
	{"hashes_tried_median", func(_ *Report, r *Record) string { return opt(r.TriedMedian) }},
	{"tried_over_expected", func(_ *Report, r *Record) string { return opt(r.TriedOverExpected) }},
	{"hashes_per_s_median", func(_ *Report, r *Record) string { return num(r.RateMedian) }},
	{"hashes_per_s_min", func(_ *Report, r *Record) string { return num(r.RateMin) }},
	{"hashes_per_s_max", func(_ *Report, r *Record) string { return num(r.RateMax) }},
	{"compressions_per_s_median", func(_ *Report, r *Record) string { return num(r.CompMedian) }},
	{"compressions_per_s_min", func(_ *Report, r *Record) string { return num(r.CompMin) }},
	{"compressions_per_s_max", func(_ *Report, r *Record) string { return num(r.CompMax) }},
	{"time_mean_s", func(_ *Report, r *Record) string { return opt(r.TimeMean) }},
	{"time_median_s", func(_ *Report, r *Record) string { return opt(r.TimeMedian) }},
	{"time_p90_s", func(_ *Report, r *Record) string { return opt(r.TimeP90) }},
	{"startup_s", func(_ *Report, r *Record) string { return opt(r.Startup) }},
	{"startup_share", func(_ *Report, r *Record) string { return opt(r.StartupShare) }},
	{"startup_bound", func(_ *Report, r *Record) string {
		if r.Mode != "solve" {
			return ""
		}
		return strconv.FormatBool(r.StartupBound)
	}},
	{"scaling", func(_ *Report, r *Record) string { return opt(r.Scaling) }},
	{"efficiency", func(_ *Report, r *Record) string { return opt(r.Efficiency) }},
	{"vs_openssl", func(_ *Report, r *Record) string { return opt(r.VsOpenSSL) }},
	{"vs_python", func(_ *Report, r *Record) string { return opt(r.VsPython) }},
	{"cpu", func(rep *Report, _ *Record) string { return rep.Header.CPU.Model }},
	{"go_version", func(rep *Report, _ *Record) string { return rep.Header.GoVersion }},
	{"powchain_version", func(rep *Report, _ *Record) string { return rep.Header.Version }},
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

func opt(x float64) string {
	if x == 0 {
		return ""
	}
	return num(x)
}

func optInt(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func solveInt(r *Record, n int) string {
	if r.Mode != "solve" {
		return ""
	}
	return strconv.Itoa(n)
}

// WriteCSV writes one row per record, after a row of column names.
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	row := make([]string, len(csvColumns))
	for i, c := range csvColumns {
		row[i] = c.name
	}
	cw.Write(row)
	for i := range rep.Records {
		for j, c := range csvColumns {
			row[j] = c.val(rep, &rep.Records[i])
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes the report as tables for a terminal.
func (rep *Report) WriteText(w io.Writer) error {
	h := &rep.Header
	var b strings.Builder
	osName := h.GOOS
	if h.OSRelease != "" {
		osName += " " + h.OSRelease
	}
	fmt.Fprintf(&b, "powchain bench · powchain %s · %s %s/%s · GOMAXPROCS %d · %s\n",
		orUnknown(h.Version), h.GoVersion, osName, h.GOARCH, h.GOMAXPROCS, h.Start.Format(time.RFC3339))
	feats := strings.Join(h.CPU.Features, " ")
	if feats == "" {
		feats = "none powchain uses"
	}
	asm := "assembly kernels built"
	if !h.Assembly {
		asm = "no assembly kernels (purego/noasm build)"
	}
	fmt.Fprintf(&b, "cpu: %s · %d logical CPUs · features: %s · %s\n", h.CPU.Model, h.CPU.Threads, feats, asm)
	fmt.Fprintf(&b, "blocks: seed %d, %d per solve cell", h.Config.Seed, h.Config.Blocks)
	var sizes []int
	for i := range rep.Records {
		if r := &rep.Records[i]; !slices.Contains(sizes, r.Txs) {
			sizes = append(sizes, r.Txs)
			fmt.Fprintf(&b, "; txs=%d: %d bytes with a 7-digit nonce, %.3g compressions a hash", r.Txs, r.MessageBytes, r.CompressionsPerHash)
		}
	}
	b.WriteString("\n")
	if o := h.OpenSSL; o != nil {
		fmt.Fprintf(&b, "reference: %s: %s compressions/s on one core (%s)\n",
			o.Command, si(o.CompressionsPerSec), siUnit(o.BytesPerSec, "B/s"))
	}
	for _, p := range h.Python {
		fmt.Fprintf(&b, "reference: %s, the seed's loop, txs=%d: %s\n", p.Version, p.Txs, siUnit(p.HashesPerSec, "H/s"))
	}
	if h.Stopped != "" {
		fmt.Fprintf(&b, "stopped early (%s): only the cells below were measured\n", h.Stopped)
	}
	for _, n := range h.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}

	var thr, sol []*Record
	for i := range rep.Records {
		if r := &rep.Records[i]; r.Mode == "throughput" {
			thr = append(thr, r)
		} else {
			sol = append(sol, r)
		}
	}
	if len(thr) > 0 {
		fmt.Fprintf(w, "\nThroughput: a target never met, %s per cell in %d samples; hash rate is the median [min-max]\n",
			dur(h.Config.RateTime), h.Config.RateSamples)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "hasher\tworkers\ttxs\thash rate\t[min-max]\tcompressions/s\tscaling\tefficiency\tvs openssl\tvs python\tstart-up\t")
		for _, r := range thr {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t[%s-%s]\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
				r.Hasher, r.Workers, r.Txs, siUnit(r.RateMedian, "H/s"), si(r.RateMin), si(r.RateMax),
				si(r.CompMedian), ratio(r.Scaling), pct(r.Efficiency), ratio(r.VsOpenSSL), times(r.VsPython), dur(r.Startup))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(sol) > 0 {
		fmt.Fprintf(w, "\nSolve: the lowest valid nonce of each block; time to solution is the wall time of one Mine call\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "difficulty\thasher\tworkers\ttxs\tsolved\texpected\ttried (mean)\ttime mean\tmedian\tp90\thash rate\t[min-max]\tscaling\tnote\t")
		for _, r := range sol {
			var note []string
			switch {
			case r.StartupShare >= 1:
				note = append(note, "start-up bound (start-up >= median time)")
			case r.StartupBound:
				note = append(note, fmt.Sprintf("start-up bound (%.0f%%)", 100*r.StartupShare))
			}
			if r.Unfinished > 0 {
				note = append(note, fmt.Sprintf("%d unfinished at the limit", r.Unfinished))
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t[%s-%s]\t%s\t%s\t\n",
				r.Difficulty, r.Hasher, r.Workers, r.Txs, r.Solved, r.Blocks,
				si(r.ExpectedHashes), si(r.TriedMean), dur(r.TimeMean), dur(r.TimeMedian), dur(r.TimeP90),
				siUnit(r.RateMedian, "H/s"), si(r.RateMin), si(r.RateMax), ratio(r.Scaling), strings.Join(note, "; "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, "start-up bound: over 10% of the time to solution is the fixed cost of a Mine call, so that hash rate is not the kernel's; see Throughput")
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// si formats x with an SI prefix and three significant digits.
func si(x float64) string {
	if x == 0 {
		return "-"
	}
	for _, p := range []struct {
		v float64
		s string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(x) >= p.v {
			return strconv.FormatFloat(x/p.v, 'f', digitsAfter(x/p.v), 64) + p.s
		}
	}
	return strconv.FormatFloat(x, 'f', digitsAfter(x), 64)
}

// digitsAfter is the number of decimals that give x three significant
// digits.
func digitsAfter(x float64) int {
	switch x = math.Abs(x); {
	case x >= 100:
		return 0
	case x >= 10:
		return 1
	}
	return 2
}

func siUnit(x float64, unit string) string {
	if x == 0 {
		return "-"
	}
	s := si(x)
	if n := len(s); n > 0 && s[n-1] >= 'A' {
		return s[:n-1] + " " + s[n-1:] + unit
	}
	return s + " " + unit
}

// dur formats seconds as a duration with three significant digits.
func dur(secs float64) string {
	switch {
	case secs == 0:
		return "-"
	case secs < 1e-3:
		return strconv.FormatFloat(secs*1e6, 'f', digitsAfter(secs*1e6), 64) + "µs"
	case secs < 1:
		return strconv.FormatFloat(secs*1e3, 'f', digitsAfter(secs*1e3), 64) + "ms"
	}
	return strconv.FormatFloat(secs, 'f', digitsAfter(secs), 64) + "s"
}

func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

func times(x float64) string {
	if x == 0 {
		return "-"
	}
	return si(x) + "x"
}

func pct(x float64) string {
	if x == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*x, 'f', 0, 64) + "%"
}
