//go:build !((amd64 || arm64) && gc && !purego && !noasm)

package hasher

// HaveAsm reports whether this build includes the assembly kernels. It is
// false here: the build is not amd64 or arm64 with the gc toolchain, or it
// was made with -tags purego or noasm. Only the pure Go and library kernels
// exist.
const HaveAsm = false
