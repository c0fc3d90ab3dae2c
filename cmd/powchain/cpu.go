package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/powchain/powchain/hasher"
)

func init() {
	register(&command{
		name:    "cpu",
		summary: "print the CPU, the features that matter and the kernel auto picks",
		examples: []string{
			"powchain cpu",
			"powchain cpu | grep auto   # the kernel --hasher auto runs here",
		},
		setup: func(fs *flag.FlagSet) func(context.Context, env, []string) error {
			return runCPU
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
	fmt.Fprintf(e.stdout, "auto:     %s\n", hasher.Auto().Name())
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
