// Package engine holds powchain's chain semantics and its parallel mining
// engine.
//
// # Blocks and hashing
//
// A [Block] has the reference node's five hashed fields (index,
// transactions, timestamp, previous_hash, nonce) and carries its hash on
// the wire. Its hash is the hex SHA-256 of CPython's
// json.dumps(fields, sort_keys=True), reproduced byte for byte by the
// pyjson subpackage, so a block mined here validates in the Python
// reference node and the other way round. With sorted keys the nonce is
// the second field, which is what makes a mining template cheap: the block
// is serialized once and only the nonce digits change per attempt (see
// [Block.Template] and package hasher).
//
// # Validation
//
// [ValidateNext] and [ValidateChain] check, in this order, the genesis
// block (by equality with [Genesis]), the index, the previous_hash link,
// the carried hash against the recomputed one, and the proof-of-work
// target. A broken rule is reported as a *[RuleError] naming the block and
// the [Rule]; malformed input is a *[FieldError] naming the field.
//
// # Mining
//
// [ProofOfWork] is the seed's sequential loop, kept as the reference. A
// [Miner] is the parallel engine: workers claim consecutive chunks of the
// nonce space in increasing order, each chunk is hashed by the chosen
// kernel in pieces, and between pieces a worker looks at the context and
// at the lowest solution found so far. Chunks above a solution stop, chunks
// below it finish, so the result is always the lowest valid nonce, the one
// the seed's loop finds, whatever the worker count and kernel. Hash counts
// are added once per piece, so they can be read while mining.
//
// A long search can be stopped and resumed without losing work or
// changing its answer: [Miner.MineRangeProgress] reports through a
// [Progress] its contiguous frontier F, a nonce below which every nonce
// was hashed and none met the target (each worker publishes where its
// chunk stands after each piece; F is the lowest of those and of the next
// chunk to claim, so it never counts a nonce that was not hashed). The
// lowest valid nonce from F is then the lowest from the start.
//
// [Miner.MineHeader] runs the same workers over the 32-bit nonces of a
// Bitcoin header (sha256d, see hasher.HeaderJob), from a start nonce: its
// answer is likewise the lowest valid nonce from there, and
// [ErrExhausted] says that none up to 2^32-1 meets the target.
//
// # Concurrency
//
// A [Chain] is not safe for concurrent use. A [Miner] is; Mine returns only
// after every worker it started has returned. Blocks are values that are
// shared, not copied, once they are on a chain: do not modify them.
package engine
