package bench

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/powchain/powchain/hasher"
)

func kernels(t *testing.T, names ...string) []hasher.Hasher {
	t.Helper()
	var hs []hasher.Hasher
	for _, n := range names {
		h, err := hasher.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

func TestRunTiny(t *testing.T) {
	var mu sync.Mutex
	var statuses []Status
	cfg := Config{
		Difficulties:  []int{1, 2},
		Hashers:       kernels(t, "generic", "std"),
		Workers:       []int{1, 2},
		Txs:           []int{1},
		Blocks:        2,
		Seed:          42,
		RateTime:      40 * time.Millisecond,
		RateSamples:   2,
		Version:       "test",
		Progress:      func(s Status) { mu.Lock(); statuses = append(statuses, s); mu.Unlock() },
		ProgressEvery: time.Millisecond,
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := rep.Header
	if h.Stopped != "" || len(h.Notes) != 0 || h.Version != "test" || h.GoVersion == "" || h.CPU.Threads == 0 {
		t.Errorf("header: %+v", h)
	}
	// 2 kernels x 2 worker counts: 4 throughput cells, 8 solve cells.
	var thr, sol int
	for _, r := range rep.Records {
		switch r.Mode {
		case "throughput":
			thr++
			if len(r.Samples) != 2 || r.RateMedian <= 0 || r.CompressionsPerHash < 4 || r.Startup <= 0 {
				t.Errorf("throughput record: %+v", r)
			}
		case "solve":
			sol++
			if r.Solved != 2 || r.Unfinished != 0 || r.ExpectedHashes == 0 || r.TimeMedian <= 0 || r.TriedMean < 1 {
				t.Errorf("solve record: %+v", r)
			}
		}
		if r.Workers == 1 && r.Scaling != 1 {
			t.Errorf("one-worker scaling %g", r.Scaling)
		}
	}
	if thr != 4 || sol != 8 {
		t.Errorf("%d throughput and %d solve records, want 4 and 8", thr, sol)
	}
	// Every kernel and worker count found the same, lowest, nonces.
	want := map[[2]int]uint64{}
	for _, r := range rep.Records {
		for _, s := range r.Samples {
			if s.Nonce == nil {
				continue
			}
			k := [2]int{r.Difficulty, s.Block}
			if n, ok := want[k]; ok && n != *s.Nonce {
				t.Errorf("difficulty %d block %d: nonce %d and %d", r.Difficulty, s.Block, n, *s.Nonce)
			}
			want[k] = *s.Nonce
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(statuses) == 0 {
		t.Fatal("no progress reported")
	}
	for _, s := range statuses {
		if s.Steps != 4+4+8 || s.Step < 1 || s.Step > s.Steps {
			t.Fatalf("status %+v", s)
		}
	}
}

func TestRunStops(t *testing.T) {
	base := Config{
		Difficulties: []int{1, 9}, // 9: never solved within the test
		Hashers:      kernels(t, "generic"),
		Workers:      []int{1},
		Txs:          []int{1},
		Blocks:       2,
	}

	// A cell limit abandons the block being mined and moves on.
	cfg := base
	cfg.CellLimit = 50 * time.Millisecond
	rep, err := Run(context.Background(), cfg)
	if err != nil || rep.Header.Stopped != "" {
		t.Fatalf("cell limit: %v, stopped %q", err, rep.Header.Stopped)
	}
	last := rep.Records[len(rep.Records)-1]
	if last.Difficulty != 9 || last.Solved != 0 || last.Unfinished != 1 || last.Hashes == 0 || len(last.Samples) != 1 {
		t.Errorf("cell limit: %+v", last)
	}

	// A time limit ends the run without an error and keeps what was done.
	cfg = base
	cfg.TimeLimit = 100 * time.Millisecond
	start := time.Now()
	rep, err = Run(context.Background(), cfg)
	if err != nil || rep.Header.Stopped != "time limit" {
		t.Fatalf("time limit: %v, stopped %q", err, rep.Header.Stopped)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("time limit of 100ms took %v", el)
	}
	if len(rep.Records) != 2 || rep.Records[0].Solved != 2 || rep.Records[1].Unfinished != 1 {
		t.Errorf("time limit records: %+v", rep.Records)
	}

	// Cancelling the context returns the partial report and the context's
	// error.
	cfg = base
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("test interrupt")) })
	rep, err = Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) || rep == nil || rep.Header.Stopped != "interrupted" {
		t.Fatalf("interrupt: %v, %+v", err, rep)
	}
	if err.Error() != "context canceled (test interrupt)" {
		t.Errorf("interrupt error %q", err)
	}
	if len(rep.Records) != 2 || rep.Records[0].Solved != 2 {
		t.Errorf("interrupt records: %+v", rep.Records)
	}
}

func TestRunConfigErrors(t *testing.T) {
	good := Config{Difficulties: []int{1}, Hashers: kernels(t, "generic"), Workers: []int{1}, Txs: []int{1}, Blocks: 1}
	for name, mod := range map[string]func(*Config){
		"no kernels":       func(c *Config) { c.Hashers = nil },
		"no workers":       func(c *Config) { c.Workers = nil },
		"zero workers":     func(c *Config) { c.Workers = []int{0} },
		"no txs":           func(c *Config) { c.Txs = nil },
		"negative txs":     func(c *Config) { c.Txs = []int{-1} },
		"zero blocks":      func(c *Config) { c.Blocks = 0 },
		"difficulty 0":     func(c *Config) { c.Difficulties = []int{0} },
		"difficulty 16":    func(c *Config) { c.Difficulties = []int{16} },
		"nothing":          func(c *Config) { c.Difficulties = nil },
		"negative timeout": func(c *Config) { c.TimeLimit = -1 },
	} {
		c := good
		mod(&c)
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
