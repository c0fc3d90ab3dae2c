package bench

import (
	"bytes"
	"context"
	"image/color"
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
// throughput cells and grows 16 times a difficulty for the solve cells.
func TestEstimate(t *testing.T) {
	cfg := Config{
		Hashers: kernels(t, "generic", "std"), Workers: []int{1, 2}, Txs: []int{1},
		Blocks: 2, RateTime: 300 * time.Millisecond,
	}
	p, err := Estimate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cells := 4 + 4 // throughput and start-up, per kernel and worker count
	if p.Cells != cells {
		t.Errorf("%d cells, want %d", p.Cells, cells)
	}
	if lo := 4 * cfg.RateTime; p.Estimate < lo || p.Estimate > lo+time.Second {
		t.Errorf("estimate %v, want a little over the throughput cells' %v", p.Estimate, lo)
	}
	if r := p.Rates["generic"][1]; !(r > 0) {
		t.Errorf("generic rate %v", r)
	}

	cfg.RateTime = 0
	cfg.Difficulties = []int{5}
	d5, err := Estimate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Difficulties = []int{6}
	d6, err := Estimate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The start-up cells are the same in both; solve time is 16 times.
	startup := 4 * 10 * time.Millisecond
	if ratio := float64(d6.Estimate-startup) / float64(d5.Estimate-startup); ratio < 4 || ratio > 64 {
		t.Errorf("difficulty 6 estimated %v, difficulty 5 %v: want about 16 times", d6.Estimate, d5.Estimate)
	}
	cfg.TimeLimit = time.Second
	if p, _ := Estimate(context.Background(), cfg); p.Estimate > time.Second {
		t.Errorf("estimate %v beyond the time limit", p.Estimate)
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
