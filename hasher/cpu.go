package hasher

import (
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Features are the CPU features that matter to the kernels, read once at
// start-up. Tests and users may clear one to keep a kernel from being used
// (see Disable); nothing else writes them.
var Features = struct {
	SHANI  bool // x86 SHA extensions (SHA256RNDS2 and friends)
	AVX2   bool
	AVX512 bool // AVX-512 F, VL and BW (the header kernel byte-swaps ZMM words with VPSHUFB)
	ARMSHA bool // ARMv8 SHA2 instructions
}{
	SHANI:  cpuid.CPU.Supports(cpuid.SHA, cpuid.SSE4, cpuid.SSSE3),
	AVX2:   cpuid.CPU.Supports(cpuid.AVX2),
	AVX512: cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512VL, cpuid.AVX512BW),
	ARMSHA: cpuid.CPU.Supports(cpuid.SHA2),
}

// Disable clears the named features ("shani", "avx2", "avx512", "armsha")
// so that Auto and Lookup treat the CPU as lacking them, and returns a
// function that puts back the features as they were before the call. It
// is meant for tests and for users comparing kernels; call it before
// mining starts, never while a search runs.
func Disable(names ...string) (restore func()) {
	saved := Features
	for _, n := range names {
		switch strings.ToLower(n) {
		case "shani", "sha", "sha-ni":
			Features.SHANI = false
		case "avx2":
			Features.AVX2 = false
		case "avx512", "avx-512":
			Features.AVX512 = false
		case "armsha", "sha2", "armsha2":
			Features.ARMSHA = false
		}
	}
	return func() { Features = saved }
}

// CPUInfo describes this machine for reports: model, cores and the
// features that matter.
type CPUInfo struct {
	Model    string   `json:"model"`
	Arch     string   `json:"arch"`
	Threads  int      `json:"logical_cpus"`
	Features []string `json:"features"`
}

// Info returns the CPU description.
func Info() CPUInfo {
	var f []string
	if Features.SHANI {
		f = append(f, "SHA-NI")
	}
	if Features.AVX2 {
		f = append(f, "AVX2")
	}
	if Features.AVX512 {
		f = append(f, "AVX-512")
	}
	if Features.ARMSHA {
		f = append(f, "ARM-SHA2")
	}
	return CPUInfo{
		Model:    strings.TrimSpace(cpuid.CPU.BrandName),
		Arch:     runtime.GOARCH,
		Threads:  runtime.NumCPU(),
		Features: f,
	}
}
