package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
func runBenchHeader(ctx context.Context, e env, o *benchOptions) (err error) {
	// The flags given, from the command line commandLine rebuilt.
	set := map[string]bool{}
	for _, part := range strings.Fields(o.command) {
		if name, ok := strings.CutPrefix(part, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			set[name] = true
		}
	}
	for _, name := range []string{"difficulties", "txs", "blocks", "duration", "openssl", "ref-time"} {
		if set[name] {
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
	if !set["rate-time"] {
		rateTime = 5 * time.Second // cpuminer's rate counts whole seconds
	}
	rounds := o.rateSamples
	if !set["rate-samples"] {
		rounds = 3
	}
	if rounds < 1 {
		return usagef("--rate-samples must be at least 1, got %d", rounds)
	}
	for _, w := range o.workers {
		if w < 1 {
			return usagef("--workers: a worker count must be at least 1, got %d", w)
		}
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
	outs, err := o.createOutputs()
	defer closeOutputs(outs)
	if err != nil {
		return err
	}
	stop, err := o.profile.start()
	if err != nil {
		return err
	}
	defer stopProfiles(stop, &err)

	var rep *bench.HeaderReport
	var runErr error
	if o.from != "" {
		if rep, err = readFrom(o.from, bench.ReadHeaderJSON); err != nil {
			return err
		}
	} else {
		rep, runErr = bench.RunHeader(ctx, cfg)
	}
	if live {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if errors.Is(runErr, bench.ErrConfig) {
		return badInput(runErr)
	}
	if rep == nil {
		return runErr
	}
	if err := rep.WriteText(e.stdout); err != nil {
		return err
	}
	var errs []error
	for _, out := range []struct {
		flag  string
		write func(io.Writer) error
	}{{"json", rep.WriteJSON}, {"csv", rep.WriteCSV}, {"svg", rep.WriteSVG}} {
		f := outs[out.flag]
		if f == nil {
			continue
		}
		if err := out.write(f); err != nil && !errors.Is(err, bench.ErrNoData) {
			errs = append(errs, fmt.Errorf("--%s: %w", out.flag, err))
		}
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", out.flag, err))
		}
		delete(outs, out.flag)
		fmt.Fprintf(e.stderr, "wrote %s\n", f.Name())
	}
	if o.plotDir != "" {
		paths, err := rep.WritePlots(o.plotDir)
		if err != nil && !errors.Is(err, bench.ErrNoData) {
			errs = append(errs, fmt.Errorf("--plot: %w", err))
		}
		if len(paths) > 0 {
			fmt.Fprintf(e.stderr, "wrote %s\n", strings.Join(paths, " "))
		}
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; the results above are what was measured: %w", runErr)
		}
		return runErr
	}
	return errors.Join(errs...)
}
