package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// TestInProcessVectors mines every mining.jsonl row with a coordinator and
// in-process workers over an embedded NATS server (the real one, on
// loopback) and compares with the seed loop's nonce.
func TestInProcessVectors(t *testing.T) {
	c, url := testFleet(t)
	startWorker(t, url, 1)
	startWorker(t, url, 2)
	for _, v := range miningVectors(t) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := c.Mine(ctx, v.tpl, v.target)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if res.Nonce != v.nonce {
			t.Fatalf("%s: nonce %d, the seed loop's is %d", v.name, res.Nonce, v.nonce)
		}
	}
	st := c.Stats()
	if st.Refused != 0 || st.Garbage != 0 {
		t.Errorf("honest workers: %+v", st)
	}
	if ws := c.Workers(); len(ws) != 2 {
		t.Errorf("workers: %+v", ws)
	}
	t.Logf("%+v", st)
}

// TestOversizeTemplate: a template workers could not take is refused at
// once instead of waiting for workers forever.
func TestOversizeTemplate(t *testing.T) {
	s := embedded(t, "127.0.0.1:0")
	c, err := NewCoordinator(connect(t, "nats://"+s.Addr()), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target, _ := hasher.TargetBits(8)
	big := make([]byte, maxTemplate)
	for _, size := range []int{maxTemplate + 1} {
		tpl := hasher.NewTemplate(big[:size/2], big[:size-size/2])
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Mine(ctx, tpl, target)
		cancel()
		if err == nil || errors.Is(err, engine.ErrCanceled) || !strings.Contains(err.Error(), "bytes") {
			t.Errorf("template of %d bytes: %v, want a refusal that names the size", size, err)
		}
	}
}

// TestElapsedFromFirstRange: a job started before any worker is connected
// reports as its Elapsed the time from its first range on, not the wait
// for a worker, so that hashes over Elapsed is the fleet's rate.
func TestElapsedFromFirstRange(t *testing.T) {
	c, url := testFleet(t)
	v := miningVectors(t)[0]
	type result struct {
		res engine.Result
		err error
	}
	done := make(chan result, 1)
	began := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := c.Mine(ctx, v.tpl, v.target)
		done <- result{res, err}
	}()
	const wait = time.Second
	time.Sleep(wait) // no worker yet: the job waits
	startWorker(t, url, 1)
	r := <-done
	total := time.Since(began)
	if r.err != nil || r.res.Nonce != v.nonce {
		t.Fatalf("%s: nonce %d, %v; want %d", v.name, r.res.Nonce, r.err, v.nonce)
	}
	if r.res.Elapsed > total-wait {
		t.Fatalf("Elapsed %v of a job that waited %v for its first worker and took %v in all: the wait is counted", r.res.Elapsed, wait, total)
	}
}
