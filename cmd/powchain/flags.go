package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// difficultyFlags declares --difficulty (the seed's hex zeros) and --bits
// (a finer difficulty in leading zero bits, which wins when set).
type difficultyFlags struct {
	hexZeros int
	bits     textFlag
}

// textFlag is a flag kept as the text given, for flags whose meaning
// depends on the mode (--bits: zero bits for JSON blocks, the compact
// nBits for Bitcoin headers).
type textFlag struct {
	text string
	set  bool
}

func (f *textFlag) String() string { return f.text }

func (f *textFlag) Set(s string) error {
	f.text, f.set = s, true
	return nil
}

func (d *difficultyFlags) register(fs *flag.FlagSet, def int) {
	fs.IntVar(&d.hexZeros, "difficulty", def, "difficulty: the hex hash starts with `N` '0' characters (0-64)")
	fs.Var(&d.bits, "bits", "difficulty in leading zero bits, `N` from 0 to 256; overrides --difficulty when set")
}

func (d *difficultyFlags) target() (hasher.Target, error) {
	if d.bits.set {
		n, err := strconv.Atoi(d.bits.text)
		if err != nil {
			return hasher.Target{}, usagef("--bits: %q is not a number of bits", d.bits.text)
		}
		t, err := hasher.TargetBits(n)
		return t, badInput(err)
	}
	t, err := engine.Difficulty(d.hexZeros)
	return t, badInput(err)
}

// minerFlags declares --workers and --hasher.
type minerFlags struct {
	workers int
	hasher  string
}

func (m *minerFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&m.workers, "workers", runtime.GOMAXPROCS(0), "`N` mining worker goroutines; the default is the CPUs this process may use")
	fs.StringVar(&m.hasher, "hasher", "auto", "SHA-256 kernel `NAME`: auto or one of "+strings.Join(hasher.Names(), ", ")+" (see powchain cpu)")
}

func (m *minerFlags) miner() (*engine.Miner, error) {
	if m.workers < 1 {
		return nil, usagef("--workers must be at least 1, got %d", m.workers)
	}
	h, err := hasher.Lookup(m.hasher)
	if err != nil {
		return nil, badInput(err)
	}
	return engine.NewMiner(h, m.workers), nil
}

// profileFlags declares --cpuprofile, --memprofile and --trace, which every
// long-running command takes.
type profileFlags struct {
	cpu, mem, trace string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile (pprof) to `FILE`")
	fs.StringVar(&p.mem, "memprofile", "", "write a heap profile (pprof) to `FILE` on exit")
	fs.StringVar(&p.trace, "trace", "", "write an execution trace to `FILE`")
}

// start starts the requested profiles and returns the function that stops
// them and writes what is written at exit. Every file is created here, so
// a path that cannot be written is refused (exit 2) before any work. The
// stop function must be called even when the command fails, so a profile
// of a failed or interrupted run is still written.
func (p *profileFlags) start() (stop func() error, err error) {
	var stops []func() error
	stopAll := func() error {
		var first error
		for i := len(stops) - 1; i >= 0; i-- {
			if err := stops[i](); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return nil, usagef("--cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		stops = append(stops, func() error { pprof.StopCPUProfile(); return f.Close() })
	}
	if p.trace != "" {
		f, err := os.Create(p.trace)
		if err != nil {
			stopAll()
			return nil, usagef("--trace: %v", err)
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stopAll()
			return nil, fmt.Errorf("--trace: %w", err)
		}
		stops = append(stops, func() error { trace.Stop(); return f.Close() })
	}
	if p.mem != "" {
		f, err := os.Create(p.mem)
		if err != nil {
			stopAll()
			return nil, usagef("--memprofile: %v", err)
		}
		stops = append(stops, func() error {
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				f.Close()
				return fmt.Errorf("--memprofile: %w", err)
			}
			return f.Close()
		})
	}
	return stopAll, nil
}

// stopProfiles stops the profiles started by profileFlags.start and records
// the first error in *err. Commands defer it right after start, with err
// their named result, so a failed or interrupted run still writes its
// profiles.
func stopProfiles(stop func() error, err *error) {
	if perr := stop(); perr != nil && *err == nil {
		*err = perr
	}
}
