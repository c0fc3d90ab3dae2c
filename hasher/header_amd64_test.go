//go:build amd64 && gc && !purego && !noasm

package hasher

import "testing"

// TestHeaderCanonicalSameCode: every header-mode name leads, through
// HeaderCanonical, to a kernel that runs the same SHA-NI header code
// (lanes and kind), and names that lead to different kernels run
// different code: "shani" is "shani2" in header mode, "shani4" is not.
func TestHeaderCanonicalSameCode(t *testing.T) {
	if !Features.SHANI {
		t.Skip("no SHA-NI on this CPU")
	}
	type code struct {
		lanes int
		reg   bool
	}
	codeOf := func(name string) code {
		h, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		hh, err := HeaderKernel(h)
		if err != nil {
			t.Fatal(err)
		}
		s := hh.NewHeaderSearcher().(*shaniHeaderSearcher)
		return code{s.lanes, s.reg}
	}
	names := []string{"shani", "shani1", "shani2", "shani4"}
	for _, n := range names {
		c := HeaderCanonical(n)
		if HeaderCanonical(c) != c {
			t.Errorf("%s is %s, which is %s", n, c, HeaderCanonical(c))
		}
		if codeOf(n) != codeOf(c) {
			t.Errorf("%s is %s in header mode, but they run %+v and %+v", n, c, codeOf(n), codeOf(c))
		}
		for _, m := range names {
			if HeaderCanonical(m) != c && codeOf(m) == codeOf(n) {
				t.Errorf("%s and %s run the same header code %+v under different names", n, m, codeOf(n))
			}
		}
	}
	if HeaderCanonical("shani") != "shani2" || HeaderCanonical("shani4") != "shani4" {
		t.Errorf("header mode: shani is %q, shani4 is %q; want shani2 and shani4",
			HeaderCanonical("shani"), HeaderCanonical("shani4"))
	}
	if HeaderCanonical("generic") != "generic" {
		t.Errorf("generic is %q in header mode", HeaderCanonical("generic"))
	}
}
