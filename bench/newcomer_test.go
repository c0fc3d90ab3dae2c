package bench

import (
	"bytes"
	"context"
	"image/color"
	"math"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSVGLooksTheSameEverywhere: the SVG carries the font it was measured
// with (Go's, as @font-face data) and names no font a machine may lack.
func TestSVGLooksTheSameEverywhere(t *testing.T) {
	var b bytes.Buffer
	if err := knownReport().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	parseXML(t, b.Bytes())
	if !strings.Contains(svg, "@font-face") || !regexp.MustCompile(`src:\s*url\(["']?data:font/ttf;[^,]*base64,`).MatchString(svg) {
		t.Errorf("the SVG embeds no font:\n%.600s", svg)
	}
	for _, fam := range regexp.MustCompile(`font-family:\s*"?([^;"]+)`).FindAllStringSubmatch(svg, -1) {
		if fam[1] != "Go" {
			t.Errorf("text in font %q, want only the embedded Go font", fam[1])
		}
	}
}

// TestPalette: the series colours are distinct, far apart, and each
// series also has its own marker for the first len(palette) series.
func TestPalette(t *testing.T) {
	dist := func(a, b color.RGBA) int {
		d := func(x, y uint8) int { return (int(x) - int(y)) * (int(x) - int(y)) }
		return d(a.R, b.R) + d(a.G, b.G) + d(a.B, b.B)
	}
	for i := range palette {
		for j := range i {
			if d := dist(palette[i], palette[j]); d < 60*60 {
				t.Errorf("colours %d and %d are too close: %v %v", j, i, palette[i], palette[j])
			}
		}
	}
	for i := range len(palette) {
		for j := range i {
			if colorOf(i) == colorOf(j) && glyphOf(i) == glyphOf(j) {
				t.Errorf("series %d and %d look the same", j, i)
			}
		}
	}
}

// TestReadJSON: a report read back draws and writes the same as the one
// written.
func TestReadJSON(t *testing.T) {
	rep := knownReport()
	var a, b, svgA, svgB bytes.Buffer
	if err := rep.WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	back.WriteJSON(&b)
	if a.String() != b.String() {
		t.Errorf("JSON differs after a round trip:\n%s\n%s", a.String(), b.String())
	}
	rep.WriteSVG(&svgA)
	back.WriteSVG(&svgB)
	if svgA.String() != svgB.String() {
		t.Errorf("the SVG of the report read back differs")
	}
	if _, err := ReadJSON(strings.NewReader(`{"header": {"tool": "other"}}`)); err == nil {
		t.Errorf("a JSON that is no bench report was read")
	}
}

// TestEstimate: the plan counts Run's cells, and its duration adds up the
// throughput cells, the start-up cells and, for each solve cell, its
// blocks' 16^difficulty hashes at the calibrated rate. The check uses the
// rates the plan reports, so a busy machine cannot make it fail.
func TestEstimate(t *testing.T) {
	cfg := Config{
		Hashers: kernels(t, "generic", "std"), Workers: []int{1, 2}, Txs: []int{1},
		Blocks: 2, RateTime: 300 * time.Millisecond,
	}
	const startup = 10 * time.Millisecond // the plan's guess per start-up cell
	near := func(got, want time.Duration) bool { return got-want < time.Millisecond && want-got < time.Millisecond }
	p, err := Estimate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cells := 4 + 4; p.Cells != cells { // throughput and start-up, per kernel and worker count
		t.Errorf("%d cells, want %d", p.Cells, cells)
	}
	if want := 4*cfg.RateTime + 4*startup; !near(p.Estimate, want) {
		t.Errorf("estimate %v, want %v: the throughput and start-up cells", p.Estimate, want)
	}

	cfg.RateTime = 0
	cfg.Difficulties = []int{5, 6}
	p, err = Estimate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cells := 4 + 2*4; p.Cells != cells {
		t.Errorf("%d cells, want %d", p.Cells, cells)
	}
	want := 4 * startup
	for _, h := range []string{"generic", "std"} {
		rate := p.Rates[h][1]
		if !(rate > 0) {
			t.Fatalf("%s: calibrated rate %v", h, rate)
		}
		for _, w := range cfg.Workers {
			for _, d := range cfg.Difficulties {
				secs := float64(cfg.Blocks) * math.Pow(16, float64(d)) / (rate * float64(min(w, runtime.GOMAXPROCS(0))))
				want += time.Duration(secs * float64(time.Second))
			}
		}
	}
	if !near(p.Estimate, want) {
		t.Errorf("estimate %v, want %v from the rates %v", p.Estimate, want, p.Rates)
	}
	cfg.TimeLimit = time.Second
	if p, _ := Estimate(context.Background(), cfg); p.Estimate != time.Second {
		t.Errorf("estimate %v, want the time limit, 1s", p.Estimate)
	}
}

// TestHeaderNamesOSKernel: a report says which operating system kernel
// it was measured on, beside the CPU.
func TestHeaderNamesOSKernel(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel release is read from /proc on Linux only")
	}
	h := newHeader(&Config{}, time.Now())
	if h.OSRelease == "" {
		t.Fatal("no kernel release in the header")
	}
	var b bytes.Buffer
	rep := knownReport()
	rep.Header.GOOS, rep.Header.OSRelease = "linux", h.OSRelease
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(b.String(), "\n", 2)[0]; !strings.Contains(first, "linux "+h.OSRelease+"/") {
		t.Errorf("first line %q does not name the kernel %s", first, h.OSRelease)
	}
}
