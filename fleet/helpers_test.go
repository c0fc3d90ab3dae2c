package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/internal/testvectors"
)

// vector is one row of mining.jsonl: a template, its target and the seed
// loop's nonce.
type vector struct {
	name   string
	tpl    *hasher.Template
	target hasher.Target
	nonce  uint64
}

func miningVectors(t testing.TB) []vector {
	var out []vector
	for _, r := range testvectors.Rows(t, "mining.jsonl") {
		obj := fmt.Sprintf(`{"index": %s, "transactions": %s, "timestamp": %s, "previous_hash": %s}`,
			r["index"], r["transactions"], r["timestamp"], r["previous_hash"])
		b, err := engine.DecodeBlock([]byte(obj), engine.BlockOptions{NoNonce: true})
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := b.Template()
		if err != nil {
			t.Fatal(err)
		}
		target, err := engine.Difficulty(int(testvectors.Int(t, r["difficulty"])))
		if err != nil {
			t.Fatal(err)
		}
		var name string
		json.Unmarshal(r["name"], &name)
		out = append(out, vector{name, tpl, target, uint64(testvectors.Int(t, r["nonce"]))})
	}
	return out
}

// embedded starts an embedded NATS server for one test.
func embedded(t testing.TB, listen string) *Server {
	t.Helper()
	s, err := StartServer(listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(context.Background(), ConnectOptions{URLs: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// startWorker runs an in-process worker until the test ends.
func startWorker(t testing.TB, url string, workers int) *Worker {
	t.Helper()
	w, err := NewWorker(connect(t, url), WorkerOptions{Name: t.Name(), Miner: engine.NewMiner(nil, workers)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("worker did not stop within 5s")
		}
	})
	return w
}

// testFleet starts an embedded NATS server on loopback and a coordinator
// on it with testOptions, both stopped when the test ends, and returns the
// coordinator and the server's URL for workers.
func testFleet(t testing.TB) (*Coordinator, string) {
	t.Helper()
	s := embedded(t, "127.0.0.1:0")
	url := "nats://" + s.Addr()
	c, err := NewCoordinator(connect(t, url), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, url
}

// testOptions are small ranges and short leases, so that even the small
// vector nonces are split across workers and faults resolve quickly.
func testOptions() Options {
	return Options{InitialRange: 512, MinRange: 256, MaxRange: 1 << 16, RangeTime: 50 * time.Millisecond, Lease: time.Second}
}
