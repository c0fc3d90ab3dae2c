package hasher

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Hasher is one SHA-256 mining kernel. It is safe for concurrent use.
type Hasher interface {
	// Name is the kernel's short name, as --hasher takes it.
	Name() string
	// Lanes is how many nonces the kernel hashes in one pass.
	Lanes() int
	// NewSearcher returns the per-worker state of the kernel.
	NewSearcher() Searcher
}

// Searcher hashes ranges of nonces for one worker. It owns scratch memory
// and is not safe for concurrent use; after its first use on a layout it
// allocates nothing.
type Searcher interface {
	// Search hashes the nonces lo, lo+1, ..., hi-1 of layout l in order of
	// their value and returns the lowest one whose digest meets target.
	// Every nonce in [lo, hi) must have exactly l.Digits decimal digits.
	// It returns hi and false when none does. hashes is the number of
	// nonces hashed: hi-lo, or fewer when it stopped at a solution (a
	// multi-lane kernel counts whole passes).
	Search(l *Layout, lo, hi uint64, target Target) (nonce uint64, found bool, hashes uint64)
}

// ErrUnsupported is returned by Lookup when this CPU or build lacks what a
// kernel needs.
var ErrUnsupported = errors.New("hasher: kernel not supported on this CPU or build")

// ErrUnknown is returned by Lookup for a name that no kernel has.
var ErrUnknown = errors.New("hasher: unknown kernel")

// kernel is a registry entry: a kernel, whether this CPU and build can run
// it, and its rank for Auto (higher is faster).
type kernel struct {
	h         Hasher
	supported func() bool
	rank      int
	about     string
	alias     string // the kernel this name is another name for ("shani4" is "shani"); "" if none
}

var kernels = map[string]kernel{}

func register(k kernel) { kernels[k.h.Name()] = k }

// Lookup returns the kernel called name. "auto" returns Auto().
func Lookup(name string) (Hasher, error) {
	if name == "" || name == "auto" {
		return Auto(), nil
	}
	k, ok := kernels[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: auto, %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	if !k.supported() {
		return nil, fmt.Errorf("%w: %q needs %s", ErrUnsupported, name, k.about)
	}
	return k.h, nil
}

// Names returns every kernel name this build knows, supported here or not,
// fastest first.
func Names() []string {
	var ks []kernel
	for _, k := range kernels {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].rank != ks[j].rank {
			return ks[i].rank > ks[j].rank
		}
		return ks[i].h.Name() < ks[j].h.Name()
	})
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.h.Name()
	}
	return names
}

// Available returns the kernels this CPU and build can run, fastest first.
func Available() []Hasher {
	var hs []Hasher
	for _, name := range Names() {
		if k := kernels[name]; k.supported() {
			hs = append(hs, k.h)
		}
	}
	return hs
}

// Canonical returns the name of the kernel that name runs: name itself, or
// for another name of the same kernel (shani4 for shani) the kernel's
// main name. Benchmarks use it to measure each kernel once.
func Canonical(name string) string {
	if k, ok := kernels[name]; ok && k.alias != "" {
		return k.alias
	}
	return name
}

// About describes what a kernel is and what it needs.
func About(name string) string { return kernels[name].about }
