package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/node"
)

// TestRun runs the load generator briefly against an auto-mining node and
// checks that everything it counted as acknowledged is on the node.
func TestRun(t *testing.T) {
	target, _ := engine.Difficulty(2)
	n, err := node.Open(node.Config{DataDir: t.TempDir(), Target: target, AutoMine: true, Miner: engine.NewMiner(nil, 1), SyncInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	res, err := run(context.Background(), config{url: "http://" + ln.Addr().String(), clients: 8, dur: 300 * time.Millisecond})
	if err != nil || res.acked == 0 || res.failed != 0 {
		t.Fatalf("run: %v, %v", res, err)
	}
	t.Log(res)
	total := len(n.Pending())
	for _, b := range n.Blocks() {
		total += len(b.Transactions)
	}
	// Requests cut off by the deadline may be stored without their 201
	// being read: at most one per client.
	if total < res.acked || total > res.acked+8 {
		t.Fatalf("the node holds %d transactions, the load generator counted %d acknowledged", total, res.acked)
	}
}
