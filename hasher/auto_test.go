package hasher

import (
	"testing"
	"time"
)

// TestMeasureOrdersKernels measures two real kernels far apart in speed,
// generic and the best other one this build runs, in both orders: Measure
// must find the fast one faster each time, and fastest must pick it.
func TestMeasureOrdersKernels(t *testing.T) {
	if l := measureTemplate.Layout(7); l.MsgLen != 240 || l.Blocks != 4 {
		t.Fatalf("the measured block is %d bytes, %d compressions a nonce; the docs say 240, 4", l.MsgLen, l.Blocks)
	}
	fast := Available()[0]
	switch fast.Name() {
	case "generic", "std", "simd":
		// Without assembly (purego) std and simd are pure Go too.
		t.Skipf("no assembly kernel here (auto is %s): none far faster than generic", fast.Name())
	}
	slow, _ := Lookup("generic")
	for _, hs := range [][]Hasher{{slow, fast}, {fast, slow}} {
		trial := Measure(hs, 20*time.Millisecond)
		if len(trial.Names) != 2 || trial.Names[0] != hs[0].Name() || trial.Names[1] != hs[1].Name() {
			t.Fatalf("Measure(%s, %s) names %v", hs[0].Name(), hs[1].Name(), trial.Names)
		}
		for i, r := range trial.Rates {
			if r <= 0 {
				t.Errorf("%s measured at %g hashes/s", trial.Names[i], r)
			}
		}
		if got := trial.Names[fastest(trial)]; got != fast.Name() {
			t.Errorf("measured %v: %s faster than %s", trial, got, fast.Name())
		}
		t.Logf("%v", trial)
	}
}

// TestAutoSettled checks that where no kernel's order is in doubt (every
// CPU but an AMD one with SHA-NI and AVX-512, and every build without
// assembly), Auto is Available's first and measures nothing.
func TestAutoSettled(t *testing.T) {
	avail := Available()
	if len(candidates(avail)) > 1 {
		t.Skip("this CPU's kernel order is unsettled; TestAutoMeasuresUnsettled covers it")
	}
	h, trial := AutoTrial()
	if trial != nil || h != avail[0] {
		t.Errorf("AutoTrial() = %s, %v; want %s, no measurement", h.Name(), trial, avail[0].Name())
	}
}
