package bench

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Panel sizes: each chart is drawn at this size, alone or in a grid.
const (
	panelW = vg.Length(500)
	panelH = vg.Length(360)
)

// chart is one panel: a plot and the file name WritePlots gives it.
type chart struct {
	name string
	p    *plot.Plot
}

// ErrNoData is returned by WriteSVG and WritePlots for a report with no
// record to draw.
var ErrNoData = errors.New("bench: nothing to plot")

// WriteSVG draws every chart of the report into one SVG image, two
// panels a row: hash rate by kernel and worker count (one panel per block
// size), time to solution against difficulty on a log scale with the
// expected time (one panel per worker count), and the hashes the lowest
// nonce took against the expected 16^difficulty.
func (rep *Report) WriteSVG(w io.Writer) error {
	charts, err := rep.charts()
	if err != nil {
		return err
	}
	cols := min(2, len(charts))
	rows := (len(charts) + cols - 1) / cols
	c := newSVG(panelW*vg.Length(cols), panelH*vg.Length(rows))
	dc := draw.New(c)
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, ch := range charts {
		grid[i/cols][i%cols] = ch.p
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: 12, PadY: 12, PadTop: 8, PadBottom: 8, PadLeft: 8, PadRight: 8}
	canvases := plot.Align(grid, tiles, dc)
	for j := range grid {
		for i, p := range grid[j] {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
	_, err = c.WriteTo(w)
	return err
}

// WritePlots writes each chart into dir (created if need be) as its own
// SVG and PNG file, and returns the paths written.
func (rep *Report) WritePlots(dir string) ([]string, error) {
	charts, err := rep.charts()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, ch := range charts {
		path := filepath.Join(dir, ch.name+".svg")
		c := newSVG(panelW, panelH)
		ch.p.Draw(draw.New(c))
		if err := writeTo(path, c); err != nil {
			return paths, err
		}
		paths = append(paths, path)
		path = filepath.Join(dir, ch.name+".png")
		if err := ch.p.Save(panelW, panelH, path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writeTo writes a canvas to a new file at path.
func writeTo(path string, c io.WriterTo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// charts builds the report's panels.
func (rep *Report) charts() ([]chart, error) {
	if len(rep.Records) == 0 {
		return nil, ErrNoData
	}
	if err := goFonts(); err != nil {
		return nil, err
	}
	var out []chart
	txsList := rep.uniq(func(r *Record) int { return r.Txs })
	for _, t := range txsList {
		if p := rep.rateChart(t); p != nil {
			out = append(out, chart{fmt.Sprintf("rate-txs%d", t), p})
		}
	}
	t := txsList[0]
	for _, w := range rep.uniq(func(r *Record) int { return r.Workers }) {
		if p := rep.timeChart(w, t); p != nil {
			out = append(out, chart{fmt.Sprintf("time-workers%d-txs%d", w, t), p})
		}
	}
	if p := rep.triedChart(t); p != nil {
		out = append(out, chart{fmt.Sprintf("tried-txs%d", t), p})
	}
	if len(out) == 0 {
		return nil, ErrNoData
	}
	return out, nil
}

// uniq returns the distinct values of f over the records, sorted.
func (rep *Report) uniq(f func(*Record) int) []int {
	var xs []int
	for i := range rep.Records {
		if v := f(&rep.Records[i]); !slices.Contains(xs, v) {
			xs = append(xs, v)
		}
	}
	slices.Sort(xs)
	return xs
}

// kernels returns the kernel names in the order of the records.
func (rep *Report) kernels() []string {
	var ks []string
	for i := range rep.Records {
		if h := rep.Records[i].Hasher; !slices.Contains(ks, h) {
			ks = append(ks, h)
		}
	}
	return ks
}

// palette is the Okabe-Ito set, chosen so that readers with the common
// forms of colour blindness tell its colours apart, most distinct first,
// with a grey for its yellow.
var palette = []color.RGBA{
	{0x00, 0x72, 0xb2, 0xff}, // blue
	{0xd5, 0x5e, 0x00, 0xff}, // vermillion
	{0x00, 0x9e, 0x73, 0xff}, // bluish green
	{0xe6, 0x9f, 0x00, 0xff}, // orange
	{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
	{0x56, 0xb4, 0xe9, 0xff}, // sky blue
	{0x00, 0x00, 0x00, 0xff}, // black
	{0x99, 0x99, 0x99, 0xff}, // grey, in place of the set's yellow, too faint on white
}

func colorOf(i int) color.RGBA { return palette[i%len(palette)] }

// glyphs mark the series as well as their colours, so that no series
// depends on colour alone; the cycle length is prime to the palette's.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{},
	draw.RingGlyph{}, draw.SquareGlyph{}, draw.PyramidGlyph{},
}

func glyphOf(i int) draw.GlyphDrawer { return glyphs[i%len(glyphs)] }

var (
	// sans is Go's own sans-serif, which golang.org/x/image ships: the
	// charts measure their text with it and embed it in the SVG, so they
	// look the same on every machine, with or without fonts installed.
	sans  = font.Font{Typeface: "Go"}
	gray  = color.RGBA{0x55, 0x55, 0x55, 0xff}
	black = color.RGBA{0, 0, 0, 0xff}
)

// goFonts adds Go's regular font to gonum's font cache, once.
var goFonts = sync.OnceValue(func() error {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return fmt.Errorf("parsing the Go font: %w", err)
	}
	font.DefaultCache.Add([]font.Face{{Font: sans, Face: f}})
	return nil
})

// newSVG returns an SVG canvas of the given size that embeds its fonts.
func newSVG(w, h vg.Length) *vgsvg.Canvas {
	return vgsvg.NewWith(vgsvg.UseWH(w, h), vgsvg.EmbedFonts(true))
}

// newPlot returns a plot with the bench's fonts and a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Title.TextStyle.Font = font.From(sans, 12)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 10)
		a.Tick.Label.Font = font.From(sans, 9)
	}
	p.Legend.TextStyle.Font = font.From(sans, 9)
	p.Legend.Top = true
	p.Legend.ThumbnailWidth = 18
	p.Legend.Padding = 2
	p.Legend.XOffs, p.Legend.YOffs = -6, 6
	g := plotter.NewGrid()
	g.Vertical.Color = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	g.Horizontal.Color = g.Vertical.Color
	g.Vertical.Width = 0
	p.Add(g)
	return p
}

// logY makes the Y axis logarithmic over the values ys (all positive),
// with a margin around them and a labelled tick at each power
// of ten, labelled by label.
func logY(p *plot.Plot, ys []float64, label func(exp int) string) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, y := range ys {
		if y > 0 {
			lo, hi = min(lo, y), max(hi, y)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Min, p.Y.Max = lo/2, hi*2
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ticks []plot.Tick
		if !(lo > 0 && hi >= lo) {
			return nil
		}
		for e := int(math.Floor(math.Log10(lo))); e <= int(math.Ceil(math.Log10(hi))); e++ {
			v := math.Pow10(e)
			ticks = append(ticks, plot.Tick{Value: v, Label: label(e)})
			for k := 2.0; k < 10; k++ {
				ticks = append(ticks, plot.Tick{Value: k * v})
			}
		}
		return ticks
	})
}

// secondsLabel labels 10^exp seconds: 1µs, 10µs, 100µs, 1ms, ..., 100s.
func secondsLabel(exp int) string {
	units := []string{"ns", "µs", "ms", "s"}
	base := min(max(floorDiv(exp, 3), -3), 0)
	return fmt.Sprintf("%g%s", math.Pow10(exp-3*base), units[base+3])
}

// countLabel labels 10^exp: 1, 10, 100, 1k, ..., 100T.
func countLabel(exp int) string {
	units := []string{"", "k", "M", "G", "T"}
	base := min(max(floorDiv(exp, 3), 0), 4)
	return fmt.Sprintf("%g%s", math.Pow10(exp-3*base), units[base])
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// difficultyTicks puts one labelled tick at each difficulty.
func difficultyTicks(ds []int) plot.Ticker {
	var ts plot.ConstantTicks
	for _, d := range ds {
		ts = append(ts, plot.Tick{Value: float64(d), Label: fmt.Sprint(d)})
	}
	return ts
}

// rateChart is the bar chart of hash rates by kernel (groups) and worker
// count (bars) for one block size: throughput records when there are,
// else solve records at the highest difficulty.
func (rep *Report) rateChart(txs int) *plot.Plot {
	mode, diff := "throughput", 0
	recs := rep.filter(func(r *Record) bool { return r.Mode == mode && r.Txs == txs && r.RateMedian > 0 })
	if len(recs) == 0 {
		mode = "solve"
		for _, r := range rep.filter(func(r *Record) bool { return r.Mode == mode && r.Txs == txs && r.RateMedian > 0 }) {
			diff = max(diff, r.Difficulty)
		}
		recs = rep.filter(func(r *Record) bool {
			return r.Mode == mode && r.Txs == txs && r.Difficulty == diff && r.RateMedian > 0
		})
	}
	if len(recs) == 0 {
		return nil
	}
	var kernels []string
	var workers []int
	cph := 0.0
	for _, r := range recs {
		if !slices.Contains(kernels, r.Hasher) {
			kernels = append(kernels, r.Hasher)
		}
		if !slices.Contains(workers, r.Workers) {
			workers = append(workers, r.Workers)
		}
		cph = max(cph, r.CompressionsPerHash)
	}
	slices.Sort(workers)

	what := "target never met"
	if mode == "solve" {
		what = fmt.Sprintf("solving difficulty %d", diff)
	}
	p := newPlot(fmt.Sprintf("Hash rate by kernel and workers (txs=%d, %s)", txs, what),
		"kernel", "hash rate (MH/s, median)")
	p.NominalX(kernels...)
	p.X.Tick.Label.Font = font.From(sans, 8)
	p.Legend.Top, p.Legend.Left = true, false
	p.Legend.YOffs = -4

	plotW := panelW - 90
	group := plotW / vg.Length(len(kernels)) * 0.8
	bar := group / vg.Length(len(workers))
	top := 0.0
	for j, w := range workers {
		vals := make(plotter.Values, len(kernels))
		for _, r := range recs {
			if r.Workers == w {
				vals[slices.Index(kernels, r.Hasher)] = r.RateMedian / 1e6
				top = max(top, r.RateMax/1e6)
			}
		}
		b, err := plotter.NewBarChart(vals, bar)
		if err != nil {
			continue
		}
		b.Color = colorOf(j)
		b.LineStyle.Width = 0
		b.Offset = (vg.Length(j) - vg.Length(len(workers)-1)/2) * bar
		p.Add(b)
		p.Legend.Add(plural(w, "worker"), b)
	}

	// References, as hash rates of this block size.
	h := &rep.Header
	ref := func(y float64, dashes []vg.Length, c color.Color, label string) {
		f := plotter.NewFunction(func(float64) float64 { return y })
		f.LineStyle.Color = c
		f.LineStyle.Width = 1.2
		f.LineStyle.Dashes = dashes
		p.Add(f)
		p.Legend.Add(label, f)
		top = max(top, y)
	}
	if h.OpenSSL != nil && cph > 0 {
		y := h.OpenSSL.CompressionsPerSec / cph / 1e6
		ref(y, []vg.Length{6, 3}, black, fmt.Sprintf("openssl sha256, one core (%.3g M compressions/s)", h.OpenSSL.CompressionsPerSec/1e6))
		if n := min(h.CPU.Threads, workers[len(workers)-1]); n > 1 {
			ref(y*float64(n), []vg.Length{2, 2}, black, fmt.Sprintf("openssl x %d cores", n))
		}
	}
	for _, py := range h.Python {
		if py.Txs == txs {
			ref(py.HashesPerSec/1e6, []vg.Length{4, 2, 1, 2}, colorOf(2),
				fmt.Sprintf("seed's Python loop (%s)", siUnit(py.HashesPerSec, "H/s")))
		}
	}
	p.Y.Min = 0
	p.Y.Max = top * 1.45 // room for the legend
	p.X.Min, p.X.Max = -0.6, float64(len(kernels))-0.4
	return p
}

// timeChart plots the mean time to solution against difficulty, one line
// per kernel, for one worker count and block size, with each kernel's
// expected time dashed: 16^difficulty over its throughput rate.
func (rep *Report) timeChart(workers, txs int) *plot.Plot {
	recs := rep.filter(func(r *Record) bool {
		return r.Mode == "solve" && r.Workers == workers && r.Txs == txs && r.Solved > 0
	})
	if len(recs) == 0 {
		return nil
	}
	blocks := rep.Header.Config.Blocks
	p := newPlot(fmt.Sprintf("Time to solution (%s, txs=%d, mean of %s)", plural(workers, "worker"), txs, plural(blocks, "block")),
		"difficulty (leading hex zeros)", "time to solution (log scale)")
	// Lines rise from left to right: the lower right corner is free.
	p.Legend.Top, p.Legend.Left = false, false
	var ds []int
	var ys []float64
	expectedShown := false
	for ki, k := range rep.kernels() {
		var pts, exp plotter.XYs
		for _, r := range recs {
			if r.Hasher != k {
				continue
			}
			pts = append(pts, plotter.XY{X: float64(r.Difficulty), Y: r.TimeMean})
			ys = append(ys, r.TimeMean)
			if !slices.Contains(ds, r.Difficulty) {
				ds = append(ds, r.Difficulty)
			}
		}
		if len(pts) == 0 {
			continue
		}
		c := colorOf(ki)
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			continue
		}
		l.Color, l.Width = c, 1.5
		s.Color, s.Shape, s.Radius = c, glyphOf(ki), 3
		p.Add(l, s)
		p.Legend.Add(k, l, s)
		if rate := rep.rateFor(k, workers, txs); rate > 0 {
			for _, pt := range pts {
				exp = append(exp, plotter.XY{X: pt.X, Y: math.Pow(16, pt.X) / rate})
				ys = append(ys, exp[len(exp)-1].Y)
			}
			if e, err := plotter.NewLine(exp); err == nil {
				e.Color, e.Width, e.Dashes = c, 1, []vg.Length{4, 3}
				p.Add(e)
				expectedShown = true
			}
		}
	}
	if expectedShown {
		p.Legend.Add("dashed: expected, 16^d / throughput rate", dashedThumb())
	}
	slices.Sort(ds)
	p.X.Tick.Marker = difficultyTicks(ds)
	p.X.Min, p.X.Max = float64(ds[0])-0.3, float64(ds[len(ds)-1])+0.3
	logY(p, ys, secondsLabel)
	return p
}

// triedChart plots, for each solved block of one block size, the work the
// seed's sequential loop does to reach the lowest valid nonce (nonce+1)
// against difficulty, with the median per difficulty and the expected
// 16^difficulty. The nonce is the same whatever the kernel and worker
// count, so each block is drawn once.
func (rep *Report) triedChart(txs int) *plot.Plot {
	type bk struct{ d, block int }
	seen := map[bk]bool{}
	byD := map[int][]float64{}
	var pts plotter.XYs
	n := max(rep.Header.Config.Blocks, 1)
	for _, r := range rep.filter(func(r *Record) bool { return r.Mode == "solve" && r.Txs == txs }) {
		for _, s := range r.Samples {
			if s.Nonce == nil || seen[bk{r.Difficulty, s.Block}] {
				continue
			}
			seen[bk{r.Difficulty, s.Block}] = true
			work := float64(*s.Nonce + 1)
			byD[r.Difficulty] = append(byD[r.Difficulty], work)
			// Spread a difficulty's blocks a little sideways.
			dx := (float64(s.Block%n) - float64(n-1)/2) * 0.25 / float64(n)
			pts = append(pts, plotter.XY{X: float64(r.Difficulty) + dx, Y: work})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	var ds []int
	for d := range byD {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	var med, exp plotter.XYs
	for _, d := range ds {
		med = append(med, plotter.XY{X: float64(d), Y: Median(byD[d])})
		exp = append(exp, plotter.XY{X: float64(d), Y: math.Pow(16, float64(d))})
	}
	p := newPlot(fmt.Sprintf("Work to the lowest valid nonce (txs=%d)", txs),
		"difficulty (leading hex zeros)", "nonces to the solution, nonce+1 (log scale)")
	ys := []float64{math.Pow(16, float64(ds[0])), math.Pow(16, float64(ds[len(ds)-1]))}
	for _, pt := range pts {
		ys = append(ys, pt.Y)
	}
	logY(p, ys, countLabel)
	// Lines rise from left to right: the lower right corner is free.
	p.Legend.Top, p.Legend.Left = false, false
	s, err := plotter.NewScatter(pts)
	if err == nil {
		s.Color, s.Shape, s.Radius = colorOf(0), draw.CircleGlyph{}, 2.2
		p.Add(s)
		p.Legend.Add("one block", s)
	}
	if l, pt, err := plotter.NewLinePoints(med); err == nil {
		l.Color, l.Width = colorOf(1), 1.5
		pt.Color, pt.Shape, pt.Radius = colorOf(1), draw.BoxGlyph{}, 3
		p.Add(l, pt)
		p.Legend.Add("median", l, pt)
	}
	if l, err := plotter.NewLine(exp); err == nil {
		l.Color, l.Width, l.Dashes = black, 1.2, []vg.Length{6, 3}
		p.Add(l)
		p.Legend.Add("expected: 16^d", l)
	}
	p.X.Tick.Marker = difficultyTicks(ds)
	p.X.Min, p.X.Max = float64(ds[0])-0.4, float64(ds[len(ds)-1])+0.4
	return p
}

// dashedThumb is a legend thumbnail of a gray dashed line.
func dashedThumb() plot.Thumbnailer {
	l, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	l.Color, l.Width, l.Dashes = gray, 1, []vg.Length{4, 3}
	return l
}

// rateFor is the throughput rate of a cell, or 0.
func (rep *Report) rateFor(hasher string, workers, txs int) float64 {
	for _, r := range rep.filter(func(r *Record) bool {
		return r.Mode == "throughput" && r.Hasher == hasher && r.Workers == workers && r.Txs == txs
	}) {
		return r.RateMedian
	}
	return 0
}

func (rep *Report) filter(keep func(*Record) bool) []*Record {
	var out []*Record
	for i := range rep.Records {
		if r := &rep.Records[i]; keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
