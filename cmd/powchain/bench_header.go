package main

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/powchain/powchain/bench"
	"github.com/powchain/powchain/hasher"
)

// parseBaselines reads --baseline in sha256d mode: NAME=PATH items,
// comma-separated, each PATH an executable.
func parseBaselines(s string) ([]bench.Baseline, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []bench.Baseline
	for _, item := range strings.Split(s, ",") {
		name, path, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" || path == "" {
			return nil, usagef("--baseline: with --mode sha256d, want NAME=PATH (e.g. cpuminer=/tmp/cpuminer-opt/cpuminer), got %q", item)
		}
		full, err := exec.LookPath(path)
		if err != nil {
			return nil, usagef("--baseline %s: %v", name, err)
		}
		for _, b := range out {
			if b.Name == name {
				return nil, usagef("--baseline: %q given twice", name)
			}
		}
		out = append(out, bench.Baseline{Name: name, Path: full})
	}
	return out, nil
}

// headerHashers resolves --hashers for sha256d mode: all means every
// kernel with a header mode. Each header kernel is measured once, under
// the first name given for it (hasher.HeaderCanonical: shani is shani2
// here, and shani4 a kernel of its own).
func headerHashers(s string) ([]hasher.Hasher, error) {
	if strings.TrimSpace(s) == "all" {
		var hs []hasher.Hasher
		seen := map[string]bool{}
		for _, h := range hasher.HeaderKernels() {
			if c := hasher.HeaderCanonical(h.Name()); !seen[c] {
				seen[c] = true
				hs = append(hs, h)
			}
		}
		return hs, nil
	}
	hs, err := parseHashersBy(s, hasher.HeaderCanonical)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if _, err := hasher.HeaderKernel(h); err != nil {
			return nil, usagef("--hashers: %v", err)
		}
	}
	return hs, nil
}

// runBenchHeader is powchain bench --mode sha256d.
func runBenchHeader(ctx context.Context, e env, o *benchOptions) error {
	// The flags given, from the command line commandLine rebuilt.
	set := func(name string) bool { return flagSet(o.command, name) }
	for _, name := range []string{"difficulties", "txs", "blocks", "duration", "openssl", "ref-time"} {
		if set(name) {
			return usagef("--%s is for --mode json", name)
		}
	}
	hs, err := headerHashers(o.hashers)
	if err != nil {
		return err
	}
	baselines, err := parseBaselines(o.baseline)
	if err != nil {
		return err
	}
	live, err := wantProgress(o.progress, e.stderr)
	if err != nil {
		return err
	}
	rateTime := o.rateTime
	if !set("rate-time") {
		rateTime = 5 * time.Second // cpuminer's rate counts whole seconds
	}
	rounds := o.rateSamples
	if !set("rate-samples") {
		rounds = 3
	}
	if rounds < 1 {
		return usagef("--rate-samples must be at least 1, got %d", rounds)
	}
	if err := o.checkWorkers(); err != nil {
		return err
	}
	cfg := bench.HeaderConfig{
		Hashers: hs, Workers: o.workers, RateTime: rateTime, Rounds: rounds,
		Baselines: baselines, Seed: uint64(o.seed),
		Version: strings.TrimSuffix(version(), " "+runtime.Version()), Command: o.command,
	}
	if live {
		cfg.Progress = func(s bench.HeaderStatus) {
			fmt.Fprintf(e.stderr, "\r\033[K[round %d/%d] %s workers=%d · %v elapsed", s.Round, s.Rounds, s.Who, s.Workers, s.Elapsed.Round(time.Second))
		}
	}
	return benchReport(ctx, e, o, bench.ReadHeaderJSON, func() (*bench.HeaderReport, error) {
		rep, err := bench.RunHeader(ctx, cfg)
		if live {
			fmt.Fprint(e.stderr, "\r\033[K")
		}
		return rep, err
	})
}
