package bench

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/hasher"
)

// minerTestdata reads a file of testdata/cpuminer.
func minerTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cpuminer", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// minerTable reads a table of testdata/cpuminer: the fields of each line
// that is neither empty nor a comment, split by sep.
func minerTable(t *testing.T, name, sep string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(string(minerTestdata(t, name)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var row []string
		if sep == "" {
			row = strings.Fields(line)
		} else {
			for _, f := range strings.Split(line, sep) {
				row = append(row, strings.TrimSpace(f))
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", name)
	}
	return rows
}

// TestParseMinerTotal reads real output of cpuminer-opt and pooler's
// cpuminer (testdata/cpuminer) and checks the rate against the one worked
// out by hand in rates.txt.
func TestParseMinerTotal(t *testing.T) {
	for _, row := range minerTable(t, "rates.txt", "") {
		want, err := strconv.ParseFloat(row[1], 64)
		if err != nil {
			t.Fatalf("rates.txt: %v", err)
		}
		got, err := ParseMinerTotal(minerTestdata(t, row[0]))
		if err != nil || math.Abs(got-want) > 1e-9*want {
			t.Errorf("%s: %v, %v; want %v H/s", row[0], got, err, want)
		}
	}
	// A run stopped before any rate line, and one whose only thread line
	// is the short first scan.
	for _, bad := range []string{"1 of 2 miner threads started\n", "Thread 0, CPU 0: 1.00 kh/s\nTotal: 1.00 kH/s\n",
		"thread 0: 2097152 hashes, 11295 khash/s\nTotal: 11295 khash/s\n"} {
		if _, err := ParseMinerTotal([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestMinerProbe reads real --help and --version output (testdata/cpuminer)
// and checks the flags, version and features against probe.txt.
func TestMinerProbe(t *testing.T) {
	for _, row := range minerTable(t, "probe.txt", "|") {
		out := minerTestdata(t, row[0])
		if strings.HasSuffix(row[0], "-help.txt") {
			if got := strings.Join(BaselineFlags(out), " "); got != row[1] {
				t.Errorf("%s: flags %q, want %q", row[0], got, row[1])
			}
			continue
		}
		v, f := parseMinerVersion(out)
		if v != row[1] || f != row[2] {
			t.Errorf("%s: version %q, features %q; want %q, %q", row[0], v, f, row[1], row[2])
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
	// A baseline that is no cpuminer (its --help lists no --benchmark)
	// is refused before anything runs.
	if path, err := exec.LookPath("true"); err == nil {
		cfg := HeaderConfig{Workers: []int{1}, RateTime: time.Second, Baselines: []Baseline{{Name: "t", Path: path}}}
		if _, err := RunHeader(context.Background(), cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "not a cpuminer") {
			t.Fatalf("baseline true: %v", err)
		}
	}
}

// TestRunHeaderCPUMiner runs real cpuminers (cpuminer-opt, pooler's) as
// baselines, side by side, when POWCHAIN_CPUMINER names them
// (comma-separated paths); README explains how to build them.
func TestRunHeaderCPUMiner(t *testing.T) {
	paths := os.Getenv("POWCHAIN_CPUMINER")
	if paths == "" {
		t.Skip("POWCHAIN_CPUMINER is not set (the paths of cpuminer builds, comma-separated)")
	}
	cfg := HeaderConfig{Hashers: []hasher.Hasher{hasher.Auto()}, Workers: []int{1}, RateTime: 6 * time.Second, Rounds: 1}
	for i, p := range strings.Split(paths, ",") {
		cfg.Baselines = append(cfg.Baselines, Baseline{Name: "miner" + strconv.Itoa(i), Path: p})
	}
	rep, err := RunHeader(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Header.Notes) > 0 {
		t.Fatalf("notes %v", rep.Header.Notes)
	}
	for _, b := range rep.Header.Baselines {
		if b.Version == "" || !slices.Contains(b.Args, "--scantime") {
			t.Errorf("baseline %+v: no version or no --scantime", b)
		}
		if rep.Records[0].VsBaseline[b.Name] <= 0 {
			t.Errorf("no ratio to %s: %+v", b.Name, rep.Records)
		}
	}
	for _, r := range rep.Records[1:] {
		if r.Median <= 0 {
			t.Errorf("%s: no rate", r.Who)
		}
	}
}
