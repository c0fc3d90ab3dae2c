package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
	"github.com/powchain/powchain/hasher"
)

// baseTime is the Unix time the workload's timestamps start from: the
// example block's, a December 2019 afternoon.
const baseTime = 1576665446

// authors are the transaction authors; all have five letters so that every
// block of a workload has the same length.
var authors = [...]string{"alice", "bobby", "carol", "david", "ellen", "frank", "grace", "heidi"}

// Block returns block i of the workload (seed, txs, salt): a block as the
// seed's node would mine it, with txs transactions of the seed's shape
// {author, content, timestamp}, a previous_hash and timestamps derived
// from the arguments. The same arguments always give the same block;
// different ones give unrelated blocks, so their lowest valid nonces are
// independent draws.
//
// Every block of a workload has the same length for a given nonce length:
// with one transaction and a 7-digit nonce the message is 240 bytes, four
// SHA-256 compressions; each further transaction adds 75 bytes.
//
// salt separates workloads that must not share blocks: Run uses the
// difficulty for solve cells and 0 for throughput cells.
func Block(seed int64, txs, salt, i int) *engine.Block {
	var in [32]byte
	copy(in[:], "powchain bench workload")
	binary.LittleEndian.PutUint64(in[24:], uint64(seed))
	key := sha256.Sum256(fmt.Appendf(in[:], "/%d/%d/%d", txs, salt, i))
	// A byte stream for the rest of the choices.
	stream := sha256.Sum256(key[:])
	next := func(n int) int {
		v := binary.LittleEndian.Uint64(stream[:8])
		stream = sha256.Sum256(stream[:])
		return int(v % uint64(n))
	}

	// A block every ten minutes, the transactions in the minute before.
	blockSecs := int64(i)*600 + int64(next(600))
	b := &engine.Block{
		Index:        1,
		Transactions: make([]pyjson.Value, txs),
		Timestamp:    timestamp(blockSecs, next(100000)),
		PreviousHash: hex.EncodeToString(key[:]),
	}
	for k := range b.Transactions {
		b.Transactions[k] = pyjson.Object{
			"author":    authors[next(len(authors))],
			"content":   fmt.Sprintf("pays %02d", 10+next(90)),
			"timestamp": timestamp(blockSecs-60+int64(k*60/max(txs, 1)), next(100000)),
		}
	}
	return b
}

// timestamp returns baseTime+secs plus a fraction of micro*10+7
// microseconds, as a Python float: the last microsecond digit is never
// zero, so json.dumps always writes ten digits, a point and six digits.
func timestamp(secs int64, micro int) pyjson.Float {
	return pyjson.Float(float64(baseTime+secs) + float64(micro*10+7)/1e6)
}

// Compressions returns the number of SHA-256 compressions in hashing the
// nonces 0, 1, ..., n-1 of t: the whole message's compressions for each
// nonce length, whether or not a kernel starts from the midstate, so that
// kernels and block sizes compare. The miner hashes nonces from 0 upward,
// so this is the count for a run that hashed n nonces (exact with one
// worker, within a piece per worker with more).
func Compressions(t *hasher.Template, n uint64) float64 {
	var sum float64
	for d := 1; d <= hasher.MaxDigits; d++ {
		lo, hi := hasher.DigitRange(d)
		if lo >= n {
			break
		}
		sum += float64(min(hi, n)-lo) * float64(t.Layout(d).Blocks)
	}
	return sum
}
