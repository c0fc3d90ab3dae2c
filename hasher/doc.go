// Package hasher holds powchain's SHA-256 mining kernels and the message
// templates they work on.
//
// # Templates
//
// A block to mine serializes as prefix || nonce digits || suffix, where only
// the decimal digits of the nonce change from one attempt to the next. A
// [Template] holds the prefix and suffix once; [Template.Layout] prepares, for
// one nonce length (1 to [MaxDigits] digits), everything a kernel needs: the
// whole message with the nonce digits zeroed, its SHA-256 padding, and the
// SHA-256 state after the 64-byte blocks that end before the first nonce
// byte (the midstate). Layouts are computed once per nonce length and are
// read-only afterwards, so any number of workers can share them.
//
// # Kernels
//
// A [Hasher] is one SHA-256 implementation (a kernel). [Hasher.NewSearcher]
// gives a [Searcher] with the scratch memory of one worker;
// [Searcher.Search] hashes a range of nonces of one layout and returns the
// lowest nonce whose digest meets a [Target]. A Searcher is not safe for
// concurrent use; a Hasher and a Layout are.
//
// Every kernel is checked against the pure Go reference kernel ("generic"),
// which is always compiled. The library kernels hash the whole message per
// nonce: "std" uses crypto/sha256 and "simd" uses github.com/minio/sha256-simd.
// Native kernels, where the architecture has them, start from the midstate
// and hash several nonces at once: on amd64 "shani" (the SHA extensions),
// "avx512" (16 nonces in ZMM lanes) and "avx2" (8 in YMM lanes); on arm64
// "armsha2" (the ARMv8 SHA2 instructions).
//
// # Bitcoin headers
//
// The kernels also mine 80-byte Bitcoin block headers with double
// SHA-256 (sha256d), the work cpuminer does. A [Header] is prepared once
// into a [HeaderJob]: the midstate of its first 64 bytes, the words of its
// second block, the state after the rounds before the nonce word, and the
// nonce-independent part of every schedule word. A kernel with a header
// mode is a [HeaderHasher]; its [HeaderSearcher] hashes nonce ranges
// against a [HeaderTarget] (decoded from nBits by [CompactTarget]),
// comparing the hash as the little-endian 256-bit number it is. Kernels
// stop the second hash once its last word, the most significant 32 bits
// of that number, is known (after round 60), and finish only the hashes
// whose last word passes ([HeaderTarget.Top]). shani, avx512, avx2,
// armsha2 and generic do this (armsha2 at its four-round granularity:
// rounds 0..2 share a group with the nonce's round 3, and of the second
// hash's last group only the instruction giving EFGH runs); std and simd
// hash the whole header twice per nonce.
// [HeaderKernels] lists those this CPU runs.
//
// # Selection
//
// CPU features are read once, with github.com/klauspost/cpuid/v2, into
// [Features]. [Auto] returns the fastest kernel this CPU runs, by a fixed
// ranking where it has been measured on CPUs of the kind; where it has not
// (AMD CPUs with both SHA-NI and AVX-512), it measures the contenders once
// per process with [Measure] and takes the faster ([AutoTrial] tells).
// [Lookup]
// returns a kernel by name and fails with [ErrUnsupported] when the CPU lacks
// what it needs. [Disable] switches features off (and gives back a function
// that switches them on again), to see what Auto does on a CPU without them. Building with -tags purego (or noasm) leaves out every
// assembly kernel.
package hasher
