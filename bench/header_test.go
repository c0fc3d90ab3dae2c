package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/hasher"
)

func TestParseMinerTotal(t *testing.T) {
	for _, c := range []struct {
		out  string
		want float64
	}{
		{"[2026-11-26 13:59:52] Total: 5925.96 kH/s, Temp: 0C\n[2026-11-26 13:59:55] Total: 7211.34 kH/s, Temp: 0C\n", 7211.34e3},
		{"Total: 12.5 MH/s\n", 12.5e6},
		{"Total: 980 H/s\n", 980},
		{"Thread 1, CPU 1: 1.00 Mh/s\nThread 0, CPU 0: 1.00 Mh/s\nThread 1, CPU 1: 5.00 Mh/s\nThread 0, CPU 0: 6.00 Mh/s\n" +
			"Total: 9.00 MH/s\nThread 1, CPU 1: 5.50 Mh/s\nThread 0, CPU 0: 6.20 Mh/s\nThread 0, CPU 0: 6.10 Mh/s\n", 5.25e6 + 6.1e6},
	} {
		got, err := ParseMinerTotal([]byte(c.out))
		if err != nil || got != c.want {
			t.Errorf("%q: %v, %v; want %v", c.out, got, err, c.want)
		}
	}
	for _, bad := range []string{"1 of 2 miner threads started\n", "Thread 0, CPU 0: 1.00 kh/s\nTotal: 1.00 kH/s\n"} {
		if _, err := ParseMinerTotal([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRunHeader(t *testing.T) {
	gen, _ := hasher.Lookup("generic")
	std, _ := hasher.Lookup("std")
	cfg := HeaderConfig{Hashers: []hasher.Hasher{gen, std}, Workers: []int{1, 2}, RateTime: 50 * time.Millisecond, Rounds: 2}
	rep, err := RunHeader(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Records) != 4 {
		t.Fatalf("%d records, want 4", len(rep.Records))
	}
	for _, r := range rep.Records {
		if len(r.Rates) != 2 || r.Median <= 0 {
			t.Fatalf("%s with %d workers: rates %v median %v", r.Who, r.Workers, r.Rates, r.Median)
		}
	}
	var text, js, csvb, svg bytes.Buffer
	for _, w := range []func() error{
		func() error { return rep.WriteText(&text) },
		func() error { return rep.WriteJSON(&js) },
		func() error { return rep.WriteCSV(&csvb) },
		func() error { return rep.WriteSVG(&svg) },
	} {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(text.String(), "generic") || strings.Count(csvb.String(), "\n") != 5 || !strings.Contains(svg.String(), "<svg") {
		t.Fatalf("report:\n%s\n%s", text.String(), csvb.String())
	}

	if _, err := RunHeader(context.Background(), HeaderConfig{Workers: []int{1}, RateTime: time.Second}); !errors.Is(err, ErrConfig) {
		t.Fatalf("no kernels: %v", err)
	}
}

// TestRunHeaderCPUMiner runs a real cpuminer (cpuminer-opt or pooler's)
// as the baseline when POWCHAIN_CPUMINER names one; README explains how
// to build it.
func TestRunHeaderCPUMiner(t *testing.T) {
	path := os.Getenv("POWCHAIN_CPUMINER")
	if path == "" {
		t.Skip("POWCHAIN_CPUMINER is not set (the path of a cpuminer build)")
	}
	shani := hasher.Auto()
	cfg := HeaderConfig{Hashers: []hasher.Hasher{shani}, Workers: []int{1}, RateTime: 6 * time.Second, Rounds: 1,
		Baselines: []Baseline{{Name: "cpuminer", Path: path}}}
	rep, err := RunHeader(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Header.Notes) > 0 || rep.Records[1].Median <= 0 || rep.Records[0].VsBaseline["cpuminer"] <= 0 {
		t.Fatalf("notes %v, records %+v", rep.Header.Notes, rep.Records)
	}
}
