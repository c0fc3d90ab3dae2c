package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/powchain/powchain/engine"
)

// TestLoadgenChain builds a chain, extends it, exports it and checks the
// dump: the length asked for, and valid at the difficulty.
func TestLoadgenChain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if out, errOut, code := powchain(t, "", "loadgen", "chain", "--blocks", "40", "--difficulty", "1", "--out", dir); code != 0 || !strings.Contains(out, "41 blocks") {
		t.Fatalf("loadgen: exit %d\n%s%s", code, out, errOut)
	}
	for _, mode := range []string{"auto", "always"} {
		_, errOut, code := powchain(t, "", "loadgen", "chain", "--blocks", "1", "--difficulty", "1", "--progress", mode, "--out", t.TempDir())
		// Not a terminal: no status line unless asked for.
		if code != 0 || strings.Contains(errOut, "\r") != (mode == "always") {
			t.Fatalf("loadgen --progress %s to a buffer: exit %d, stderr %q", mode, code, errOut)
		}
	}
	if out, errOut, code := powchain(t, "", "loadgen", "chain", "--blocks", "9", "--difficulty", "1", "--out", dir); code != 0 || !strings.Contains(out, "50 blocks") {
		t.Fatalf("loadgen on an existing chain: exit %d\n%s%s", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "chain.json")
	if _, errOut, code := powchain(t, "", "export", "--data", dir, "--revalidate", file); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := engine.DecodeDump(data)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := engine.Difficulty(1)
	if err := engine.ValidateChain(d.Blocks, target); err != nil || len(d.Blocks) != 50 {
		t.Fatalf("the exported chain: %d blocks, %v", len(d.Blocks), err)
	}
	if _, _, code := powchain(t, "", "loadgen", "chain", "--blocks", "5", "--difficulty", "2", "--out", dir); code != exitUsage {
		t.Fatalf("loadgen at another difficulty than the data dir's: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := powchain(t, "", "loadgen", "blocks"); code != exitUsage {
		t.Fatalf("loadgen blocks: exit %d, want %d", code, exitUsage)
	}
}
