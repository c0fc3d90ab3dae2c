package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/powchain/powchain/hasher"
)

// ErrExhausted is returned when no nonce below 2^64-1 meets the target.
var ErrExhausted = errors.New("engine: nonce space exhausted without a solution")

// ErrCanceled is returned (wrapping the context's error) when mining was
// stopped by its context before it found a solution.
var ErrCanceled = errors.New("engine: mining canceled")

const (
	// DefaultChunk is how many consecutive nonces a worker claims at once.
	DefaultChunk = 1 << 14
	// pieceCompressions is how many SHA-256 compressions a worker does
	// between two looks at the context and at the best solution so far:
	// about 0.2 ms with the SHA-NI kernel, 2.5 ms with the pure Go one. A
	// piece is that many compressions' worth of nonces (2048 nonces of a
	// 4-block message, 68 of a 120-block one), so the time to notice a
	// solution or a cancellation does not grow with the block.
	pieceCompressions = 1 << 13
)

// Miner is the parallel mining engine: a pool of workers that claim
// consecutive chunks of the nonce space in increasing order, so that the
// nonce it returns is the lowest valid one, the one the seed's sequential
// loop finds, whatever the number of workers and the kernel.
//
// A Miner is safe for concurrent use; its hash counter is shared by all
// Mine calls.
type Miner struct {
	hasher  hasher.Hasher
	workers int
	chunk   uint64
	hashes  atomic.Uint64
}

// NewMiner returns a miner with the given kernel (nil: hasher.Auto()) and
// number of workers (<= 0: runtime.GOMAXPROCS(0)).
func NewMiner(h hasher.Hasher, workers int) *Miner {
	if h == nil {
		h = hasher.Auto()
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Miner{hasher: h, workers: workers, chunk: DefaultChunk}
}

// SetChunk sets how many consecutive nonces a worker claims at once (a
// multiple of the piece size is best). It must not be called during Mine.
func (m *Miner) SetChunk(n uint64) {
	if n > 0 {
		m.chunk = n
	}
}

// Hasher returns the kernel the miner runs.
func (m *Miner) Hasher() hasher.Hasher { return m.hasher }

// Workers returns the number of worker goroutines per Mine call.
func (m *Miner) Workers() int { return m.workers }

// Hashes returns the number of nonces hashed by every Mine call so far. It
// is updated while mining, once per piece of nonces per worker, so it can
// be read for progress displays and metrics.
func (m *Miner) Hashes() uint64 { return m.hashes.Load() }

// Result is a solved proof-of-work.
type Result struct {
	Nonce   uint64
	Hash    [32]byte
	Hashes  uint64        // nonces hashed by all workers in this call
	Elapsed time.Duration // wall time of the call
}

// HashHex returns the hash as the 64-character hex string the chain uses.
func (r Result) HashHex() string { return fmt.Sprintf("%x", r.Hash) }

// Mine searches the nonces of t from 0 upward and returns the lowest one
// whose hash meets target.
//
// Workers claim chunks of nonces in increasing order. When one finds a
// solution, chunks above it stop within one piece of nonces and chunks
// below it run to their end, so no lower solution is missed. Cancelling
// ctx stops every worker within one piece and Mine returns an error that
// wraps ErrCanceled and ctx.Err(); Mine returns only after every worker has
// returned.
func (m *Miner) Mine(ctx context.Context, t *hasher.Template, target hasher.Target) (Result, error) {
	return m.MineRange(ctx, t, target, 0, math.MaxUint64)
}

// MineRange is Mine over the nonces lo, lo+1, ..., hi-1 only: it returns
// the lowest nonce in [lo, hi) whose hash meets target, or an error that
// wraps ErrExhausted when there is none. It is what a remote worker of a
// mining fleet runs on the range it was handed. 2^64-1 is never searched.
func (m *Miner) MineRange(ctx context.Context, t *hasher.Template, target hasher.Target, lo, hi uint64) (Result, error) {
	n, res, err := m.run(ctx, m.hasher.Name(), lo, min(hi, math.MaxUint64), func() pieceFunc {
		return m.blockPiece(t, target)
	})
	if err != nil {
		return res, err
	}
	res.Nonce = n
	msg := make([]byte, 0, len(t.Prefix())+hasher.MaxDigits+len(t.Suffix()))
	msg = strconv.AppendUint(append(msg, t.Prefix()...), n, 10)
	res.Hash = sha256.Sum256(append(msg, t.Suffix()...))
	return res, nil
}

// blockPiece is one worker's search of a JSON block template, with a
// searcher of its own. A piece ends at a change of nonce length and holds
// about pieceCompressions compressions. Past the searcher's first use at a
// nonce length it allocates nothing.
func (m *Miner) blockPiece(t *hasher.Template, target hasher.Target) pieceFunc {
	s := m.hasher.NewSearcher()
	lanes := uint64(m.hasher.Lanes())
	return func(lo, hi uint64) (uint64, uint64, bool, uint64) {
		d := hasher.Digits(lo)
		_, dhi := hasher.DigitRange(d)
		l := t.Layout(d)
		piece := max(uint64(pieceCompressions/l.Blocks), lanes)
		end := min(hi, dhi)
		if end-lo > piece {
			end = lo + piece
		}
		n, found, h := s.Search(l, lo, end, target)
		return end, n, found, h
	}
}

// pieceFunc is one worker's search: it hashes the nonces from lo up to
// some end <= hi of its choosing (a piece) and returns that end and, as a
// Searcher does, the lowest solution in [lo, end) and the nonces hashed.
type pieceFunc func(lo, hi uint64) (end, nonce uint64, found bool, hashes uint64)

// run is the worker pool behind Mine and MineHeader: it searches the
// nonces [first, last) in chunks claimed in increasing order by m.workers
// goroutines, each with its own pieceFunc from newPiece, and returns the
// lowest solution. When no nonce meets the target it returns
// ErrExhausted; when ctx stops it early, an error wrapping ErrCanceled.
func (m *Miner) run(ctx context.Context, name string, first, last uint64, newPiece func() pieceFunc) (uint64, Result, error) {
	start := time.Now()
	var (
		next   atomic.Uint64 // index of the next chunk to claim
		best   atomic.Uint64 // lowest solution so far; MaxUint64 = none
		hashes atomic.Uint64
	)
	best.Store(math.MaxUint64)
	chunk := m.chunk
	var chunks uint64 // chunk indexes that start below last
	if last > first {
		chunks = (last-first-1)/chunk + 1
	}

	var g errgroup.Group
	for w := 0; w < m.workers; w++ {
		labels := pprof.Labels("worker", strconv.Itoa(w), "hasher", name)
		g.Go(func() error {
			var err error
			pprof.Do(ctx, labels, func(context.Context) {
				err = m.work(ctx, newPiece(), first, last, chunk, chunks, &next, &best, &hashes)
			})
			return err
		})
	}
	err := g.Wait()
	res := Result{Hashes: hashes.Load(), Elapsed: time.Since(start)}
	n := best.Load()
	if n == math.MaxUint64 {
		if err == nil {
			err = ErrExhausted
		}
		return 0, res, err
	}
	// A worker returns an error only when ctx stopped it early; a chunk
	// below the solution may then be unsearched, so the solution is not
	// known to be the lowest and the error wins.
	if err != nil {
		return 0, res, err
	}
	return n, res, nil
}

// work is one worker: it must be run as a goroutine by run. It claims
// chunks of [first, last) until they run out, a solution below its next
// piece is known, or ctx is done.
func (m *Miner) work(ctx context.Context, piece pieceFunc, first, last, chunk, chunks uint64,
	next, best, hashes *atomic.Uint64) error {
	done := ctx.Done()
	for {
		k := next.Add(1) - 1
		if k >= chunks {
			return nil
		}
		lo := first + k*chunk
		hi := lo + chunk
		if hi < lo || hi > last { // the last chunk ends at last
			hi = last
		}
		for lo < hi {
			if lo >= best.Load() {
				return nil
			}
			select {
			case <-done:
				return fmt.Errorf("%w: %w", ErrCanceled, context.Cause(ctx))
			default:
			}
			end, n, found, h := piece(lo, hi)
			hashes.Add(h)
			m.hashes.Add(h)
			if found {
				for {
					b := best.Load()
					if n >= b || best.CompareAndSwap(b, n) {
						break
					}
				}
				return nil
			}
			lo = end
		}
	}
}
