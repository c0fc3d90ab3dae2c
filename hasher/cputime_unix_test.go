//go:build unix

package hasher

import "syscall"

// processCPU returns the CPU time this process has used, user and system,
// in seconds, or 0 where it cannot tell.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
