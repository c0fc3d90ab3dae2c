package fleet

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powchain/powchain/hasher"
)

// BenchmarkCoordinatorCapacity drives one coordinator with a load
// generator of fake workers over a real NATS server on loopback: each
// fake worker answers "none" for its last range and asks for the next, as
// fast as the coordinator replies, with a rate of 20 MH/s so the ranges
// have the default size for such a machine. It reports the answers per
// second the coordinator handled. A 20 MH/s machine answers once per
// RangeTime (1 s by default), so answers/s is also the number of such
// machines one coordinator feeds (machines/coordinator).
//
// The load generator runs in the same process and on the same cores as
// the coordinator and the NATS server, so the figure is a lower bound.
func BenchmarkCoordinatorCapacity(b *testing.B) {
	for _, fakes := range []int{16, 128} {
		b.Run(fmt.Sprintf("fakes=%d", fakes), func(b *testing.B) { benchCapacity(b, fakes) })
	}
}

func benchCapacity(b *testing.B, fakes int) {
	s := embedded(b, "127.0.0.1:0")
	url := "nats://" + s.Addr()
	c, err := NewCoordinator(connect(b, url), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	v := miningVectors(b)[0]
	never, _ := hasher.TargetBits(200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Mine(ctx, v.tpl, never)
	const conns = 8
	ncs := make([]*natsTransport, conns)
	for i := range ncs {
		ncs[i] = &natsTransport{connect(b, url), workSubject(DefaultSubject), 10 * time.Second}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for f := 0; f < fakes; f++ {
		tr := ncs[f%conns]
		wg.Go(func() {
			req := &Request{Worker: fmt.Sprintf("fake-%d", f), Name: "fake", Kernel: "none", Cores: 8, Rate: 20e6}
			for left.Add(-1) >= 0 {
				l, err := tr.ask(context.Background(), req)
				if err != nil {
					b.Error(err)
					return
				}
				if l.NewJob != nil {
					req.Job = l.Job
				}
				if l.Idle || l.Hi <= l.Lo {
					req.Answer = nil
					continue
				}
				req.Answer = &Answer{Job: l.Job, Lease: l.ID, Lo: l.Lo, Hi: l.Hi, Hashes: l.Hi - l.Lo, Seconds: 1}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	st := c.Stats()
	if st.Refused != 0 || st.Garbage != 0 {
		b.Fatalf("%+v", st)
	}
	perSec := float64(st.Answered) / el.Seconds()
	b.ReportMetric(perSec, "answers/s")
	b.ReportMetric(perSec*DefaultRangeTime.Seconds(), "machines/coordinator")
}

// BenchmarkJobSwitch measures how long a new job takes to replace the old
// one on every worker: from the start of the new job (its announcement)
// until each of 2 workers, busy on the old job's ranges, holds a range of
// the new one, which it asks for only after it has stopped mining the
// old job. Workers run in this process over a real NATS server.
func BenchmarkJobSwitch(b *testing.B) {
	s := embedded(b, "127.0.0.1:0")
	url := "nats://" + s.Addr()
	c, err := NewCoordinator(connect(b, url), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	startWorker(b, url, 1)
	startWorker(b, url, 1)
	vs := miningVectors(b)
	never, _ := hasher.TargetBits(200)
	var worst []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Mine(ctx, vs[i%len(vs)].tpl, never); close(done) }()
		for c.Stats().Answered < uint64(2*(i+1)) { // both workers are busy on it
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-done
		ctx, cancel = context.WithCancel(context.Background())
		done = make(chan struct{})
		start := time.Now()
		go func() { c.Mine(ctx, vs[(i+1)%len(vs)].tpl, never); close(done) }()
		for !c.allHold(2) {
			time.Sleep(100 * time.Microsecond)
		}
		worst = append(worst, time.Since(start))
		cancel()
		<-done
	}
	b.StopTimer()
	sort.Slice(worst, func(i, j int) bool { return worst[i] < worst[j] })
	b.ReportMetric(float64(worst[len(worst)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(worst[len(worst)-1].Microseconds())/1000, "ms-max")
}

// allHold reports whether n distinct workers hold a lease of the current
// job.
func (c *Coordinator) allHold(n int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.job == nil {
		return false
	}
	seen := map[*workerState]bool{}
	for _, l := range c.job.open {
		seen[l.worker] = true
	}
	return len(seen) >= n
}
