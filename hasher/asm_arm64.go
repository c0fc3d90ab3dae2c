//go:build arm64 && gc && !purego && !noasm

package hasher

// HaveAsm reports whether this build includes the assembly kernels.
const HaveAsm = true
