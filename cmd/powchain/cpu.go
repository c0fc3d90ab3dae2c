package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/powchain/powchain/hasher"
)

func init() {
	register(&command{
		name:    "cpu",
		summary: "print the CPU, the features that matter and the kernel auto picks",
		examples: []string{
			"powchain cpu",
			"powchain cpu | grep auto   # the kernel --hasher auto runs here",
			"powchain cpu --measure     # and each kernel's rate on one thread, in a fraction of a second",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			var measure bool
			fs.BoolVar(&measure, "measure", false, "also measure every kernel here for a moment, on one thread, on the one-transaction block, and print its rate")
			return func(ctx context.Context, e env, args []string) error {
				if err := runCPU(ctx, e, args); err != nil || !measure {
					return err
				}
				return measureKernels(e)
			}
		},
	})
}

func runCPU(_ context.Context, e env, args []string) error {
	if len(args) > 0 {
		return usagef("cpu takes no arguments")
	}
	info := hasher.Info()
	feats := strings.Join(info.Features, " ")
	if feats == "" {
		feats = "(none that powchain uses)"
	}
	fmt.Fprintf(e.stdout, "cpu:      %s (%s, %d logical CPUs)\n", info.Model, info.Arch, info.Threads)
	fmt.Fprintf(e.stdout, "features: %s\n", feats)
	fmt.Fprintf(e.stdout, "assembly: %v\n", hasher.HaveAsm)
	auto, trial := hasher.AutoTrial()
	if trial != nil {
		fmt.Fprintf(e.stdout, "auto:     %s (measured here, one thread: %s)\n", auto.Name(), trial)
	} else {
		fmt.Fprintf(e.stdout, "auto:     %s\n", auto.Name())
	}
	fmt.Fprintln(e.stdout, "kernels:")
	avail := map[string]bool{}
	for _, h := range hasher.Available() {
		avail[h.Name()] = true
	}
	for _, n := range hasher.Names() {
		mark := "unsupported here"
		if avail[n] {
			mark = "available"
		}
		fmt.Fprintf(e.stdout, "  %-10s %-16s needs %s\n", n, mark, hasher.About(n))
	}
	return nil
}

// measureKernels prints each kernel's rate on one thread, fastest first,
// each kernel once (shani4 is shani).
func measureKernels(e env) error {
	var hs []hasher.Hasher
	for _, h := range hasher.Available() {
		if hasher.Canonical(h.Name()) == h.Name() {
			hs = append(hs, h)
		}
	}
	trial := hasher.Measure(hs, time.Duration(len(hs))*50*time.Millisecond)
	order := make([]int, len(hs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(trial.Rates[b], trial.Rates[a]) })
	fmt.Fprintln(e.stdout, "measured (one thread, the 240-byte one-transaction block, best of 5 samples):")
	for _, i := range order {
		fmt.Fprintf(e.stdout, "  %-10s %7.2f MH/s\n", trial.Names[i], trial.Rates[i]/1e6)
	}
	return nil
}
