package fleet

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
)

// TestMineFromResumes cancels a fleet job part way, resumes it with
// MineFrom from the progress the coordinator reported, and gets the seed
// loop's nonce; the frontier sampled during the job never goes down and
// never passes the answer. Resuming with the answer as Best, or at it,
// gives it too, and an inconsistent progress is refused.
func TestMineFromResumes(t *testing.T) {
	var v vector
	for _, r := range miningVectors(t) {
		if r.nonce > v.nonce {
			v = r
		}
	}
	if v.nonce < 1<<20 {
		t.Fatalf("largest vector nonce %d: too small to stop a job before it", v.nonce)
	}
	s := embedded(t, "127.0.0.1:0")
	url := "nats://" + s.Addr()
	opt := testOptions()
	opt.MaxRange = 1 << 13 // many ranges, so the frontier moves by small steps
	c, err := NewCoordinator(connect(t, url), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	startWorker(t, url, 1)
	startWorker(t, url, 1)

	if _, ok := c.Progress(); ok {
		t.Fatal("progress reported before any job")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Mine(ctx, v.tpl, v.target)
		done <- err
	}()
	last := uint64(0)
	deadline := time.Now().Add(60 * time.Second)
	for last < v.nonce/4 {
		if time.Now().After(deadline) {
			t.Fatalf("frontier %d after 60s", last)
		}
		p, ok := c.Progress()
		if ok {
			if p.Frontier < last || p.Frontier > v.nonce || (p.Best != math.MaxUint64 && p.Best < v.nonce) {
				t.Fatalf("progress %+v after frontier %d; the answer is %d", p, last, v.nonce)
			}
			last = p.Frontier
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled job: %v", err)
	}
	p, _ := c.Progress()
	if p.Frontier < last || p.Frontier > v.nonce {
		t.Fatalf("progress %+v after the cancel; frontier %d before, the answer %d", p, last, v.nonce)
	}
	res, err := c.MineFrom(context.Background(), v.tpl, v.target, p)
	if err != nil || res.Nonce != v.nonce {
		t.Fatalf("resumed from %+v: nonce %d, %v; want %d", p, res.Nonce, err, v.nonce)
	}
	if end, _ := c.Progress(); end.Frontier != v.nonce || end.Best != v.nonce {
		t.Errorf("progress %+v after the job, want frontier and best %d", end, v.nonce)
	}

	// A solution above the answer as Best: the ranges below it are still
	// mined, and the answer found.
	next, err := engine.NewMiner(nil, 1).MineRange(context.Background(), v.tpl, v.target, v.nonce+1, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.MineFrom(context.Background(), v.tpl, v.target, Progress{Frontier: v.nonce / 2, Best: next.Nonce})
	if err != nil || res.Nonce != v.nonce {
		t.Fatalf("resumed from %d with best %d: nonce %d, %v; want %d", v.nonce/2, next.Nonce, res.Nonce, err, v.nonce)
	}
	res, err = c.MineFrom(context.Background(), v.tpl, v.target, Progress{Frontier: v.nonce + 1, Best: next.Nonce})
	if err != nil || res.Nonce != next.Nonce || res.Hashes == 0 {
		t.Fatalf("resumed from %d with best %d: nonce %d after %d hashes, %v", v.nonce+1, next.Nonce, res.Nonce, res.Hashes, err)
	}
	// At the answer: done at once, with no work.
	res, err = c.MineFrom(context.Background(), v.tpl, v.target, Progress{Frontier: v.nonce, Best: v.nonce})
	if err != nil || res.Nonce != v.nonce || res.Hashes != 0 {
		t.Fatalf("resumed at the answer: nonce %d, %d hashes, %v", res.Nonce, res.Hashes, err)
	}
	for _, bad := range []Progress{{Frontier: 0, Best: v.nonce + 1}, {Frontier: v.nonce + 1, Best: v.nonce}, {Frontier: 0, Best: math.MaxUint64 - 1}} {
		if _, err := c.MineFrom(context.Background(), v.tpl, v.target, bad); !errors.Is(err, ErrBadResume) {
			t.Errorf("resume from %+v: %v, want ErrBadResume", bad, err)
		}
	}
}
