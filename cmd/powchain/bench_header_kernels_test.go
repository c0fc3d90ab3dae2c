package main

import (
	"slices"
	"testing"

	"github.com/powchain/powchain/hasher"
)

// TestBenchHeaderHashersOnce: --mode sha256d measures every header kernel
// once, telling them apart as header mode does: there shani runs shani2's
// kernel, and shani4 is a kernel of its own that must not be dropped.
func TestBenchHeaderHashersOnce(t *testing.T) {
	all, err := headerHashers("all")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, h := range all {
		c := hasher.HeaderCanonical(h.Name())
		if other, ok := seen[c]; ok {
			t.Errorf("--hashers all runs header kernel %s twice: as %s and %s", c, other, h.Name())
		}
		seen[c] = h.Name()
	}
	for _, h := range hasher.HeaderKernels() {
		if _, ok := seen[hasher.HeaderCanonical(h.Name())]; !ok {
			t.Errorf("--hashers all leaves out %s", h.Name())
		}
	}
	if !slices.ContainsFunc(hasher.HeaderKernels(), func(h hasher.HeaderHasher) bool { return h.Name() == "shani4" }) {
		t.Skip("no SHA-NI here: no header kernels with shared names to check further")
	}
	hs, err := headerHashers("shani,shani4,shani2,generic")
	var names []string
	for _, h := range hs {
		names = append(names, h.Name())
	}
	if err != nil || !slices.Equal(names, []string{"shani", "shani4", "generic"}) {
		t.Errorf("--mode sha256d --hashers shani,shani4,shani2,generic: %v %v, want shani shani4 generic", names, err)
	}
}
