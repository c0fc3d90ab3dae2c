//go:build !unix

package hasher

// processCPU returns 0: this platform's CPU time is not read here.
func processCPU() float64 { return 0 }
