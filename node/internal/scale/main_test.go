package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTableAndPlot renders rows with a failed step: the table shows
// "fail" and the reason, and the SVG draws the points that exist.
func TestTableAndPlot(t *testing.T) {
	rows := []Row{
		{Blocks: 1000, StartMS: 12, RSSMB: 20, AddBlockMS: 0.5, MineMS: 1, ChainTTFBMS: 0.4, ChainTotalMS: 2, ChainBytes: 760000, SyncMS: 100, DiskPerBlock: 900, DiskAlloc: 880},
		{Blocks: 1000000, StartMS: 900, RSSMB: 60, AddBlockMS: 0.6, MineMS: 1.1, ChainTTFBMS: 0.5, ChainTotalMS: 900, ChainBytes: 760000000, SyncMS: -1, DiskPerBlock: 800, DiskAlloc: 790,
			Errors: map[string]string{"sync": "timed out: 1 of 1000000 blocks"}},
	}
	tab := table(rows)
	for _, want := range []string{"| 1000 blocks | 1000000 blocks |", "| fresh node sync | 100 ms | fail |", "- 1000000 blocks, sync: timed out", "| wire bytes per block (/chain size / length) | 760 | 760 |"} {
		if !strings.Contains(tab, want) {
			t.Fatalf("the table lacks %q:\n%s", want, tab)
		}
	}
	var svg bytes.Buffer
	if err := plotRows(&svg, "test", rows, rows[:1]); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(svg.String(), "<?xml") || !strings.Contains(svg.String(), "fresh node sync") {
		t.Fatalf("not the SVG expected: %.200s", svg.String())
	}
}
