// Package bench measures powchain's mining engine: hash rates and time to
// solution across difficulties, kernels, worker counts and block sizes. It
// is what `powchain bench` runs, and its Go benchmarks (BenchmarkMine) are
// the same measurements in the form benchstat compares.
//
// # Two measurements
//
// A hash rate taken from solving one block is only as good as the block
// is hard: at difficulty 1 a solution takes a handful of nonces, and the
// time is that of starting and collecting the workers. So [Run] measures
// two things and keeps them apart (the Mode of a [Record]):
//
//   - throughput: the engine mines against a target no hash meets, for a
//     fixed time (Config.RateTime, split into samples on different
//     blocks), with every worker busy. This is the kernel's steady rate at
//     a worker count, the number to compare kernels and worker counts by.
//   - solve: the engine finds the lowest valid nonce of Config.Blocks
//     different blocks at each difficulty, as `powchain mine` does. This
//     gives the time to solution (mean, median, 90th percentile), the
//     hashes tried against the expected 16^difficulty, and a hash rate
//     that includes the fixed cost of every Mine call.
//
// That fixed cost is measured too (a Mine call that succeeds at nonce 0,
// the median of a few) and reported per cell as Startup; a solve cell
// where it is over a tenth of the median time to solution is marked
// StartupBound: its hash rate describes start-up, not the kernel.
//
// # Work and blocks
//
// The blocks are the seed's: index, transactions {author, content,
// timestamp}, timestamp and previous_hash, made by [Block] from a seed so
// that a run can be repeated exactly. With one transaction the message is
// 240 bytes, four SHA-256 compressions per nonce; more transactions make
// longer messages, which is why rates are also given in compressions per
// second (see [Compressions]: the whole message's compressions, whether or
// not a kernel starts from a midstate). The engine returns the lowest
// valid nonce whatever the kernel and worker count, so within a run every
// cell of a difficulty solves the same blocks with the same nonces: cells
// differ only in speed. Run checks this and notes any disagreement.
//
// # References
//
// With Config.OpenSSL, Run measures `openssl speed -evp sha256` on 16 KiB
// messages: one core's SHA-256 speed through OpenSSL, in compressions per
// second. It is one dependent stream of compressions; kernels that hash
// several nonces at once, or reuse work between nonces, can pass it. With
// Config.Python it runs the seed's own proof-of-work loop in python3 for a
// bounded time on a block of each size: the speed powchain replaces.
// Records carry their ratio to each (VsOpenSSL, VsPython).
//
// # Reports
//
// A [Report] has a [Header] (CPU model and features, Go and powchain
// versions, the configuration and the references) and one [Record] per
// cell with its samples. It writes itself as JSON (everything), CSV (one
// row per cell), text tables, and charts drawn with gonum.org/v1/plot:
// hash rate per kernel and worker count, time to solution against
// difficulty on a log scale with the expected time, and the work to the
// lowest nonce against 16^difficulty.
//
// # Bitcoin headers
//
// [RunHeader] measures sha256d on 80-byte Bitcoin headers instead (powchain
// bench --mode sha256d): each kernel's header mode at each worker count,
// and outside miners given as [Baseline]s (cpuminer-opt, pooler's
// cpuminer), run as PATH --benchmark -a sha256d -t N for the same time and
// thread counts. Cells are measured round-robin, one sample each per
// round, so that a busy spell on a shared machine slows every cell alike;
// a [HeaderReport] gives medians, each kernel's ratio to each baseline at
// the same worker count, and a chart.
//
// # Profiles
//
// Mining goroutines carry the engine's pprof labels "worker" and "hasher",
// and Run adds "bench" (the phase: start-up, throughput or solve) and
// "difficulty", so a CPU profile of a run can be split with
// go tool pprof -tagfocus.
//
// # Concurrency
//
// Run measures one cell at a time; only the engine's workers run in
// parallel. Config.Progress is called from one goroutine of Run's, never
// concurrently and never after Run returns. A Report is not safe for
// concurrent modification.
package bench
