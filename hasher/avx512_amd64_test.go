//go:build amd64 && gc && !purego && !noasm

package hasher

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/cpuid/v2"
)

func needAVX512(t testing.TB) {
	t.Helper()
	if !Features.AVX512 {
		t.Skip("CPU lacks AVX-512 F, VL and BW")
	}
}

func newAVX512Case(t *testing.T, seed uint64) *laneCase {
	needAVX512(t)
	s := newSIMDSearcher(avx512Lanes, avx512Search)
	return &laneCase{t: t, rng: rand.New(rand.NewPCG(seed, 512)), lanes: avx512Lanes, search: s.search, generic: genericHasher{}.NewSearcher()}
}

// TestAVX512Offsets: laneCase.checkOffsets for avx512.
func TestAVX512Offsets(t *testing.T) { newAVX512Case(t, 1).checkOffsets() }

// TestAVX512Lengths: laneCase.checkLengths for avx512.
func TestAVX512Lengths(t *testing.T) { newAVX512Case(t, 2).checkLengths(64, 24) }

// TestAVX512PartialPasses: laneCase.checkPartialPasses for avx512, ranges
// of 1..33 nonces.
func TestAVX512PartialPasses(t *testing.T) { newAVX512Case(t, 3).checkPartialPasses() }

// TestAVX512WeakMask: laneCase.checkWeakMask for avx512.
func TestAVX512WeakMask(t *testing.T) { newAVX512Case(t, 5).checkWeakMask() }

// TestAVX512LongRanges searches ranges of thousands of nonces, where one
// assembly call runs many passes and the nonces carry across several
// digits (also runs of nines, from starts just below a power of ten), with
// targets that make solutions rare and a first-word mask weaker than the
// target half of the time, so that the assembly stops at passes that do
// not meet it and resumes.
func TestAVX512LongRanges(t *testing.T) {
	c := newAVX512Case(t, 4)
	iters := 40
	if testing.Short() {
		iters = 12
	}
	for i := 0; i < iters; i++ {
		prefix := randBytes(c.rng, c.rng.IntN(150))
		suffix := randBytes(c.rng, c.rng.IntN(400))
		d := 3 + c.rng.IntN(MaxDigits-2)
		l := NewTemplate(prefix, suffix).Layout(d)
		lo, hi := DigitRange(d)
		count := min(uint64(500+c.rng.IntN(3000)), hi-lo)
		start := lo + c.rng.Uint64N(hi-lo-count+1)
		switch i % 4 {
		case 0:
			start = hi - count // up to the last nonce with d digits
		case 1:
			// Through a run of nines in the middle digits.
			p := pow10[1+c.rng.IntN(d-2)]
			start = max(lo, (start/p+1)*p-uint64(c.rng.IntN(40))-1)
			start = min(start, hi-count)
		}
		target, _ := TargetBits(6 + c.rng.IntN(5))
		mask := target.FirstMask()
		if i%2 == 1 {
			mask = 0xc0000000
		}
		c.compare(l, start, start+count, target, mask)
	}
	t.Logf("%d nonces compared", c.checked)
}

// TestAVX512States: checkLaneStates for avx512.
func TestAVX512States(t *testing.T) {
	needAVX512(t)
	checkLaneStates(t, newSIMDSearcher(avx512Lanes, avx512Search), 3)
}

// TestAVX512Unsupported switches AVX-512 off: the kernel is refused with
// ErrUnsupported and a message naming what it needs, and neither Available
// nor Auto offers it.
func TestAVX512Unsupported(t *testing.T) {
	defer Disable("avx512")()
	h, err := Lookup("avx512")
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Lookup(avx512) without AVX-512 = %v, %v; want ErrUnsupported", h, err)
	}
	if !strings.Contains(err.Error(), "avx512") || !strings.Contains(err.Error(), "AVX-512") {
		t.Errorf("Lookup(avx512) error %q does not name the kernel and AVX-512", err)
	}
	for _, h := range Available() {
		if h.Name() == "avx512" {
			t.Fatal("avx512 available without AVX-512")
		}
	}
	if Auto().Name() == "avx512" {
		t.Fatal("Auto() is avx512 without AVX-512")
	}
}

// TestAutoWithoutSHANI checks Auto's choice on CPUs without SHA-NI, made
// by switching features off: avx512 where AVX-512 is left, avx2 where only
// AVX2 is, and a library kernel with neither.
func TestAutoWithoutSHANI(t *testing.T) {
	has := Features
	for _, tc := range []struct {
		off  []string
		need bool // the CPU has what the expected kernel needs
		want string
	}{
		{[]string{"shani"}, has.AVX512, "avx512"},
		{[]string{"shani", "avx512"}, has.AVX2, "avx2"},
		{[]string{"shani", "avx512", "avx2"}, true, "std"},
	} {
		t.Run(strings.Join(tc.off, ","), func(t *testing.T) {
			if !tc.need {
				t.Skipf("CPU lacks what %s needs", tc.want)
			}
			defer Disable(tc.off...)()
			if got := Auto().Name(); got != tc.want {
				t.Errorf("Auto() with %v off = %q, want %q", tc.off, got, tc.want)
			}
		})
	}
	if Features != has {
		t.Fatalf("features not restored: %+v, want %+v", Features, has)
	}
}

// TestAVX512AutoRank checks Auto's choice with every feature this CPU has:
// avx512 on an Intel CPU with AVX-512, SHA-NI or not; on another vendor's
// CPU with SHA-NI, the faster of avx512 and shani as measured.
func TestAVX512AutoRank(t *testing.T) {
	needAVX512(t)
	h, trial := AutoTrial()
	if cpuid.CPU.VendorID != cpuid.Intel && Features.SHANI {
		if trial == nil {
			t.Fatalf("Auto() = %q on %s with SHA-NI and AVX-512 without measuring", h.Name(), cpuid.CPU.VendorString)
		}
		checkTrial(t, h, trial, "avx512", "shani")
		return
	}
	if trial != nil {
		t.Errorf("Auto() measured %v on %s (SHA-NI %v); the order is settled there", trial, cpuid.CPU.VendorString, Features.SHANI)
	}
	if h.Name() != "avx512" {
		t.Errorf("Auto() = %q on %s (SHA-NI %v), want avx512", h.Name(), cpuid.CPU.VendorString, Features.SHANI)
	}
}

// TestAutoMeasuresUnsettled plays a CPU of another vendor than Intel with
// SHA-NI and AVX-512 (this one's kernels, measured for real): Auto must
// measure avx512 and shani and take the faster; with SHA-NI off, avx512
// without measuring; back on Intel, nothing measured.
func TestAutoMeasuresUnsettled(t *testing.T) {
	needAVX512(t)
	if !Features.SHANI {
		t.Skip("CPU lacks SHA-NI: nothing to measure avx512 against")
	}
	saved := vendorIntel
	defer func() { vendorIntel = saved }()
	vendorIntel = false
	h, trial := AutoTrial()
	if trial == nil {
		t.Fatalf("Auto() = %q without measuring on a non-Intel CPU with SHA-NI and AVX-512", h.Name())
	}
	checkTrial(t, h, trial, "avx512", "shani")
	t.Logf("measured: %v; Auto() = %s", trial, h.Name())
	if h2, trial2 := AutoTrial(); h2 != h || trial2 != trial {
		t.Errorf("second AutoTrial() = %s, %v; want the first measurement again (%s, %v)", h2.Name(), trial2, h.Name(), trial)
	}
	func() {
		defer Disable("shani")()
		if h, trial := AutoTrial(); trial != nil || h.Name() != "avx512" {
			t.Errorf("AutoTrial() without SHA-NI = %s, %v; want avx512, no measurement", h.Name(), trial)
		}
	}()
	vendorIntel = true
	if h, trial := AutoTrial(); trial != nil || h.Name() != Available()[0].Name() {
		t.Errorf("AutoTrial() on Intel = %s, %v; want %s, no measurement", h.Name(), trial, Available()[0].Name())
	}
}

// checkTrial checks that trial measured exactly the kernels named (in any
// order), each at a rate a real kernel has, and that h is the faster.
func checkTrial(t *testing.T, h Hasher, trial *Trial, names ...string) {
	t.Helper()
	got := slices.Clone(trial.Names)
	slices.Sort(got)
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(trial.Rates) != len(trial.Names) {
		t.Fatalf("measured %v (%d rates), want %v", trial.Names, len(trial.Rates), want)
	}
	best := 0
	for i, r := range trial.Rates {
		if r < 1e5 || r > 1e10 {
			t.Errorf("%s measured at %g hashes/s: no kernel runs at that rate", trial.Names[i], r)
		}
		if r > trial.Rates[best] {
			best = i
		}
	}
	if h.Name() != trial.Names[best] {
		t.Errorf("Auto() = %s, but %s measured faster (%v)", h.Name(), trial.Names[best], trial)
	}
}
