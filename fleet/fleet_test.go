package fleet

import (
	"context"
	"testing"
	"time"
)

// TestInProcessVectors mines every mining.jsonl row with a coordinator and
// in-process workers over an embedded NATS server (the real one, on
// loopback) and compares with the seed loop's nonce.
func TestInProcessVectors(t *testing.T) {
	s := embedded(t, "127.0.0.1:0")
	url := "nats://" + s.Addr()
	c, err := NewCoordinator(connect(t, url), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
