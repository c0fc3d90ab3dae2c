package fleet

import (
	"context"
	"encoding/json"
	"fmt"
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
	for c.Stats().Issued == 0 && len(c.Workers()) == 0 {
		time.Sleep(time.Millisecond)
		c.mu.Lock()
		started := c.job != nil
		c.mu.Unlock()
		if started {
			break
		}
	}
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
	_ = json.Marshal
}
