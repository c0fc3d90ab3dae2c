package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// TestHostileWorker has a fake worker, a NATS client speaking the
// protocol, send garbage and wrong solutions while an honest worker mines.
// Each is refused and counted, the result is still the seed loop's nonce,
// and the coordinator goes on to mine the next block.
func TestHostileWorker(t *testing.T) {
	c, url := testFleet(t)
	vs := miningVectors(t)
	v := vs[0]

	// The job starts before any worker, so the fake one gets the first
	// ranges, all of them below the solution.
	type mined struct {
		nonce uint64
		err   error
	}
	done := make(chan mined, 1)
	go func() {
		res, err := c.Mine(context.Background(), v.tpl, v.target)
		done <- mined{res.Nonce, err}
	}()

	nc := connect(t, url)
	ask := func(data []byte) *Lease {
		t.Helper()
		m, err := nc.Request(workSubject(DefaultSubject), data, 5*time.Second)
		if err != nil {
			t.Fatalf("the coordinator did not answer: %v", err)
		}
		var l Lease
		if err := json.Unmarshal(m.Data, &l); err != nil {
			t.Fatalf("reply %q: %v", m.Data, err)
		}
		return &l
	}
	garbage := []string{
		"", "not json", "{", `{"worker": ""}`, `[1,2,3]`, `{"worker": 7}`,
		`{"worker": "x", "cores": -1}`, `{"worker": "x", "rate": -5}`,
		`{"worker": "x", "answer": {"lo": 10, "hi": 5}}`,
		`{"worker": "x", "release": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}`,
		`{"worker": "` + strings.Repeat("w", 300) + `"}`,
		strings.Repeat(" ", maxRequest+1),
	}
	for _, g := range garbage {
		if l := ask([]byte(g)); l.Error == "" {
			t.Errorf("garbage %.40q got a lease: %+v", g, l)
		}
	}
	// Garbage without a reply subject is counted too.
	nc.Publish(workSubject(DefaultSubject), []byte("fire and forget"))

	// Lease ranges as a worker would, then claim solutions that are not.
	req := func(a *Answer, job string) []byte {
		b, _ := json.Marshal(Request{Worker: "evil-1", Name: "evil", Kernel: "none", Cores: 1, Job: job, Answer: a})
		return b
	}
	l := ask(req(nil, ""))
	if l.NewJob == nil || l.Hi <= l.Lo {
		t.Fatalf("first lease %+v: want a job and a range", l)
	}
	job := l.Job
	// A nonce inside the range that does not meet the target (the seed
	// loop's nonce is the lowest, so any lower one fails).
	wrong := []*Answer{
		{Job: job, Lease: l.ID, Lo: l.Lo, Hi: l.Hi, Found: true, Nonce: l.Lo},
	}
	l2 := ask(req(wrong[0], job))
	// A valid solution claimed for a range that does not hold it.
	wrong = append(wrong, &Answer{Job: job, Lease: l2.ID, Lo: l2.Lo, Hi: l2.Hi, Found: true, Nonce: v.nonce})
	if v.nonce >= l2.Lo && v.nonce < l2.Hi {
		t.Fatalf("lease %+v holds the solution %d; the test wants it elsewhere", l2, v.nonce)
	}
	ask(req(wrong[1], job))
	nc.Flush()

	startWorker(t, url, 1)
	var r mined
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("no result within 60s")
	}
	if r.err != nil || r.nonce != v.nonce {
		t.Fatalf("nonce %d, err %v; the seed loop's is %d", r.nonce, r.err, v.nonce)
	}
	st := c.Stats()
	if st.Refused != uint64(len(wrong)) {
		t.Errorf("refused %d solutions, want %d", st.Refused, len(wrong))
	}
	if st.Garbage != uint64(len(garbage))+1 {
		t.Errorf("counted %d garbage messages, want %d", st.Garbage, len(garbage)+1)
	}
	for _, w := range c.Workers() {
		if w.ID == "evil-1" && w.Refused != uint64(len(wrong)) {
			t.Errorf("the fake worker is charged %d refusals, want %d", w.Refused, len(wrong))
		}
	}
	// Still running: the next block is mined too.
	v = vs[1]
	res, err := c.Mine(context.Background(), v.tpl, v.target)
	if err != nil || res.Nonce != v.nonce {
		t.Fatalf("after the hostile worker: nonce %d, err %v; the seed loop's is %d", res.Nonce, err, v.nonce)
	}
}

// TestReleaseHandsBack stops a worker mid-job: it hands its ranges back,
// and with leases far longer than the test they are reissued only because
// they were given back. Run returns within a second.
func TestReleaseHandsBack(t *testing.T) {
	s := embedded(t, "127.0.0.1:0")
	url := "nats://" + s.Addr()
	opt := testOptions()
	opt.Lease = time.Hour
	c, err := NewCoordinator(connect(t, url), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v := miningVectors(t)[0]
	never, _ := hasher.TargetBits(200) // a job that lasts
	jobCtx, stopJob := context.WithCancel(context.Background())
	defer stopJob()
	done := make(chan error, 1)
	go func() { _, err := c.Mine(jobCtx, v.tpl, never); done <- err }()

	w, err := NewWorker(connect(t, url), WorkerOptions{Name: "stopping"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { w.Run(ctx); close(ran) }()
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats().Answered < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the worker answered no ranges within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := c.Stats(); st.Reissued != 0 {
		t.Fatalf("reissued before the worker stopped: %+v", st)
	}
	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of its context's end")
	}
	// The released ranges go out again to the next worker that asks.
	startWorker(t, url, 1)
	for c.Stats().Reissued == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no range was handed back: %+v", c.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopJob()
	if err := <-done; !errors.Is(err, engine.ErrCanceled) {
		t.Errorf("cancelled job: %v, want ErrCanceled", err)
	}
}
