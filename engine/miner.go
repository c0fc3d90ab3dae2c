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
	return m.MineRangeProgress(ctx, t, target, lo, hi, nil)
}

// MineRangeProgress is MineRange that reports its frontier through p (nil:
// none) while it runs and after it returns, so that a caller can save how
// far a long search has come and resume it later from there with the same
// answer. p must not be shared by two calls at once.
func (m *Miner) MineRangeProgress(ctx context.Context, t *hasher.Template, target hasher.Target, lo, hi uint64, p *Progress) (Result, error) {
	n, res, err := m.run(ctx, m.hasher.Name(), lo, min(hi, math.MaxUint64), p, func() pieceFunc {
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

// Progress reports how far a search of MineRangeProgress or
// MineHeaderProgress has come. Its methods are safe to call from any
// goroutine, during the search and after it.
type Progress struct {
	s atomic.Pointer[search]
}

// Frontier returns the contiguous frontier F of the search: every nonce
// from the first one searched up to F-1 was hashed and none of them meets
// the target. F never claims a nonce that was not hashed, however the
// workers interleave: each worker publishes, after each piece it finished
// without a solution, where its chunk stands, and F is the lowest of those
// and of the next chunk to claim. After a canceled search it is exact up
// to the pieces in progress at the cancellation; after a solved one it is
// at most the solution. ok is false before the search has started.
func (p *Progress) Frontier() (f uint64, ok bool) {
	s := p.s.Load()
	if s == nil {
		return 0, false
	}
	return s.frontier(), true
}

// search is the shared state of one run: the chunks of [first, last), the
// next to claim, the best solution so far and where each worker stands.
type search struct {
	first, last, chunk, chunks uint64
	next                       atomic.Uint64 // index of the next chunk to claim
	best                       atomic.Uint64 // lowest solution so far; MaxUint64 = none
	hashes                     atomic.Uint64
	slots                      []slot // one per worker
}

// slot is where one worker stands: every nonce of its current chunk below
// pos is hashed, and so is every nonce of its earlier chunks; last when it
// holds no chunk. It only grows, and a worker's next chunk starts at or
// above it. It fills a cache line, so that workers do not slow each other
// down.
type slot struct {
	pos atomic.Uint64
	_   [56]byte
}

func newSearch(first, last, chunk uint64, workers int) *search {
	s := &search{first: first, last: last, chunk: chunk, slots: make([]slot, workers)}
	s.best.Store(math.MaxUint64)
	if last > first {
		s.chunks = (last-first-1)/chunk + 1
	}
	for i := range s.slots {
		s.slots[i].pos.Store(last)
	}
	return s
}

// chunkStart is where chunk k starts (last when there is no chunk k).
func (s *search) chunkStart(k uint64) uint64 {
	if k < s.chunks {
		return s.first + k*s.chunk
	}
	return s.last
}

// frontier is the lowest nonce that may not be hashed yet: the start of
// the next chunk to claim, or the lowest worker position. A worker sets
// its slot to the start of the next chunk to claim before it claims one,
// so its slot is at or below any chunk it holds; next is loaded before
// the slots, so a chunk claimed after next was loaded is above next's
// start, and one claimed before shows in its worker's slot. The result is
// therefore never too high, whichever order the loads and the claims
// interleave in.
func (s *search) frontier() uint64 {
	f := s.chunkStart(s.next.Load())
	for i := range s.slots {
		f = min(f, s.slots[i].pos.Load())
	}
	return f
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
// p, when not nil, reports the search's frontier.
func (m *Miner) run(ctx context.Context, name string, first, last uint64, p *Progress, newPiece func() pieceFunc) (uint64, Result, error) {
	start := time.Now()
	s := newSearch(first, last, m.chunk, m.workers)
	if p != nil {
		p.s.Store(s)
	}

	var g errgroup.Group
	for w := 0; w < m.workers; w++ {
		labels := pprof.Labels("worker", strconv.Itoa(w), "hasher", name)
		g.Go(func() error {
			var err error
			pprof.Do(ctx, labels, func(context.Context) {
				err = m.work(ctx, newPiece(), s, &s.slots[w].pos)
			})
			return err
		})
	}
	err := g.Wait()
	res := Result{Hashes: s.hashes.Load(), Elapsed: time.Since(start)}
	n := s.best.Load()
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
// chunks of s until they run out, a solution below its next piece is
// known, or ctx is done, and moves pos past every piece it finished
// without a solution.
func (m *Miner) work(ctx context.Context, piece pieceFunc, s *search, pos *atomic.Uint64) error {
	done := ctx.Done()
	for {
		pos.Store(s.chunkStart(s.next.Load())) // at or below the chunk claimed next
		k := s.next.Add(1) - 1
		if k >= s.chunks {
			pos.Store(s.last)
			return nil
		}
		lo := s.first + k*s.chunk
		pos.Store(lo)
		hi := lo + s.chunk
		if hi < lo || hi > s.last { // the last chunk ends at last
			hi = s.last
		}
		for lo < hi {
			if lo >= s.best.Load() {
				return nil
			}
			select {
			case <-done:
				return fmt.Errorf("%w: %w", ErrCanceled, context.Cause(ctx))
			default:
			}
			end, n, found, h := piece(lo, hi)
			s.hashes.Add(h)
			m.hashes.Add(h)
			if found {
				for {
					b := s.best.Load()
					if n >= b || s.best.CompareAndSwap(b, n) {
						break
					}
				}
				return nil
			}
			pos.Store(end)
			lo = end
		}
	}
}
