package main

import (
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff},
}

type series struct {
	name string
	get  func(Row) float64
}

// panel draws one log-log chart of the series against chain length;
// failed (negative) points are left out. The rows of base, when given, are
// drawn dashed in the same colours (a run to compare with).
func panel(title, ylabel string, rows, base []Row, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "chain length (blocks)"
	p.Y.Label.Text = ylabel
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	top := 0.0
	for i, s := range ss {
		for _, set := range []struct {
			rows   []Row
			dashed bool
		}{{rows, false}, {base, true}} {
			var pts plotter.XYs
			for _, r := range set.rows {
				if v := s.get(r); v > 0 {
					pts = append(pts, plotter.XY{X: float64(r.Blocks), Y: v})
					top = max(top, v)
				}
			}
			if len(pts) == 0 {
				continue
			}
			l, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			l.Color, sc.Color = palette[i%len(palette)], palette[i%len(palette)]
			l.Width = vg.Points(1.5)
			if set.dashed {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				sc.Shape = draw.CrossGlyph{}
			}
			p.Add(l, sc)
			if !set.dashed {
				p.Legend.Add(s.name, l, sc)
			}
		}
	}
	if top > 0 {
		p.Y.Max = top * 300 // room above the data for the legend
	}
	return p, nil
}

// plotRows draws the time costs and the memory and disk costs side by
// side into one SVG.
func plotRows(w io.Writer, label string, rows, base []Row) error {
	if label != "" {
		label = " (" + label + ")"
	}
	if base != nil {
		label += ", dashed: the compared run"
	}
	times, err := panel("time against chain length"+label, "milliseconds", rows, base, []series{
		{"start-up", func(r Row) float64 { return r.StartMS }},
		{"POST /add_block", func(r Row) float64 { return r.AddBlockMS }},
		{"GET /mine", func(r Row) float64 { return r.MineMS }},
		{"/chain first byte", func(r Row) float64 { return r.ChainTTFBMS }},
		{"/chain total", func(r Row) float64 { return r.ChainTotalMS }},
		{"fresh node sync", func(r Row) float64 { return r.SyncMS }},
	})
	if err != nil {
		return err
	}
	space, err := panel("memory and disk against chain length"+label, "MB, or bytes per block", rows, base, []series{
		{"RSS after start-up (MB)", func(r Row) float64 { return r.RSSMB }},
		{"peak RSS after /chain (MB)", func(r Row) float64 { return r.PeakRSSMB }},
		{"peak anonymous RSS during /chain (MB)", func(r Row) float64 { return r.ChainAnonMB }},
		{"syncing node peak RSS (MB)", func(r Row) float64 { return r.SyncRSSMB }},
		{"disk bytes per block (allocated)", func(r Row) float64 {
			if r.DiskAlloc > 0 {
				return r.DiskAlloc
			}
			return r.DiskPerBlock // runs from before the allocated size was measured
		}},
	})
	if err != nil {
		return err
	}
	const pw, ph = vg.Length(520), vg.Length(380)
	c := vgsvg.New(2*pw, ph)
	dc := draw.New(c)
	grid := [][]*plot.Plot{{times, space}}
	canv := plot.Align(grid, draw.Tiles{Rows: 1, Cols: 2, PadX: 12, PadTop: 8, PadBottom: 8, PadLeft: 8, PadRight: 8}, dc)
	times.Draw(canv[0][0])
	space.Draw(canv[0][1])
	_, err = c.WriteTo(w)
	return err
}
