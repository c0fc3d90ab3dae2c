// Command loadgen measures how many transactions a powchain node
// acknowledges durably: it keeps -c clients posting distinct transactions
// to POST /new_transaction for -d and reports the 201s per second and
// their latency. Every request goes to the address given; run it only
// against a node of your own, on this machine.
//
//	go run ./node/internal/loadgen -url http://127.0.0.1:8000/ -c 50 -d 15s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// config is what one run does.
type config struct {
	url     string // the node's base URL, with a trailing slash
	clients int
	dur     time.Duration
}

// result is what one run measured.
type result struct {
	acked, failed int
	elapsed       time.Duration
	latencies     []time.Duration // of the acknowledged requests, sorted
}

func (r result) rate() float64 { return float64(r.acked) / r.elapsed.Seconds() }

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(q*float64(len(r.latencies)-1))]
}

func (r result) String() string {
	return fmt.Sprintf("%d acknowledged (201) in %v: %.0f tx/s; latency p50 %v, p90 %v, p99 %v, max %v; %d failed",
		r.acked, r.elapsed.Round(time.Millisecond), r.rate(),
		r.quantile(0.5).Round(10*time.Microsecond), r.quantile(0.9).Round(10*time.Microsecond),
		r.quantile(0.99).Round(10*time.Microsecond), r.quantile(1).Round(10*time.Microsecond), r.failed)
}

// run posts transactions from cfg.clients goroutines for cfg.dur.
func run(ctx context.Context, cfg config) (result, error) {
	if !strings.HasSuffix(cfg.url, "/") {
		cfg.url += "/"
	}
	tr := &http.Transport{MaxIdleConns: cfg.clients, MaxIdleConnsPerHost: cfg.clients}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, cfg.dur)
	defer cancel()
	run := time.Now().UnixNano()

	var mu sync.Mutex
	var res result
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.clients {
		wg.Go(func() {
			var lat []time.Duration
			acked, failed := 0, 0
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"author": "loadgen", "content": "run %d client %d tx %d"}`, run, w, i)
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "POST", cfg.url+"new_transaction", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed++
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					acked++
					lat = append(lat, time.Since(t0))
				} else {
					failed++
				}
			}
			mu.Lock()
			res.acked += acked
			res.failed += failed
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	if res.acked == 0 && firstErr != nil {
		return res, firstErr
	}
	return res, nil
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8000/", "the node's base URL (a node of your own, on this machine)")
	flag.IntVar(&cfg.clients, "c", 50, "concurrent clients")
	flag.DurationVar(&cfg.dur, "d", 15*time.Second, "how long to run")
	flag.Parse()
	if cfg.clients < 1 || cfg.dur <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -c must be at least 1 and -d positive")
		os.Exit(2)
	}
	res, err := run(context.Background(), cfg)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	fmt.Printf("loadgen: %d clients against %s: %v\n", cfg.clients, cfg.url, res)
}
