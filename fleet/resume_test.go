package fleet

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
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

// TestLateNoneCounts: a "none" that comes after its lease ran out still
// answers its range when nothing else has (the range waits to go out
// again, or is out again on another lease), so a range that outlasts its
// lease on every worker cannot go round for ever; a late answer for a
// range already answered changes nothing.
func TestLateNoneCounts(t *testing.T) {
	v := miningVectors(t)[0]
	target, _ := hasher.TargetBits(60) // no solution in the few ranges here
	c, err := NewCoordinator(nil, Options{RangeTime: 5 * time.Millisecond, Lease: 20 * time.Millisecond, InitialRange: 1000, MinRange: 1000, MaxRange: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Mine(ctx, v.tpl, target)
	for {
		if _, ok := c.Progress(); ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ask := func(worker, job string, a *Answer) *Lease {
		return c.serve(&Request{Worker: worker, Job: job, Answer: a}, time.Now())
	}
	waitReissuable := func(lo uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c.mu.Lock()
			n := len(c.job.again)
			c.mu.Unlock()
			if n > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the lease of [%d, ...) did not run out", lo)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	l1 := ask("a", "", nil)
	if l1.NewJob == nil || l1.Lo != 0 || l1.Hi != 1000 {
		t.Fatalf("first lease %+v", l1)
	}
	job := l1.NewJob.ID
	waitReissuable(0)
	// Late, and [0, 1000) waits to go out again: the answer takes it.
	l2 := ask("a", job, &Answer{Job: job, Lease: l1.ID, Lo: 0, Hi: 1000, Hashes: 1000})
	if l2.Lo != 1000 || l2.Hi != 2000 {
		t.Fatalf("after a late none for [0, 1000): lease %+v, want [1000, 2000)", l2)
	}
	// [1000, 2000) runs out and goes out again to b; a's late answer takes
	// it from b.
	waitReissuable(1000)
	l3 := ask("b", job, nil)
	if l3.Lo != 1000 || l3.Hi != 2000 {
		t.Fatalf("b got %+v, want [1000, 2000) again", l3)
	}
	ask("a", job, &Answer{Job: job, Lease: l2.ID, Lo: 1000, Hi: 2000, Hashes: 1000})
	p, _ := c.Progress()
	if p.Frontier < 2000 {
		t.Fatalf("frontier %d after [0, 2000) was answered late", p.Frontier)
	}
	// b's answer for the range a answered is late and changes nothing.
	before := c.Stats()
	ask("b", job, &Answer{Job: job, Lease: l3.ID, Lo: 1000, Hi: 2000, Hashes: 1000})
	if after := c.Stats(); after.Late != before.Late+1 {
		t.Errorf("b's answer: stats %+v, before %+v", after, before)
	}
	if p2, _ := c.Progress(); p2.Frontier < p.Frontier {
		t.Errorf("frontier went down from %d to %d", p.Frontier, p2.Frontier)
	}
	// A late none for a range never handed out is not taken.
	c.mu.Lock()
	next := c.job.next
	c.mu.Unlock()
	p, _ = c.Progress()
	c.serve(&Request{Worker: "a", Job: job, Stopping: true, Answer: &Answer{Job: job, Lease: 999, Lo: next - 1000, Hi: next + 6000, Hashes: 1000}}, time.Now())
	c.mu.Lock()
	if c.job.next != next || len(c.job.open) == 0 {
		t.Errorf("next moved from %d to %d, or the leases out were dropped: %d", next, c.job.next, len(c.job.open))
	}
	c.mu.Unlock()
	if p2, _ := c.Progress(); p2 != p {
		t.Errorf("progress %+v after a late answer of another range, was %+v", p2, p)
	}
}
