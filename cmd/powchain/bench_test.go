package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseIntList(t *testing.T) {
	good := []struct {
		in   string
		want []int
	}{
		{"1-6", []int{1, 2, 3, 4, 5, 6}},
		{"1,2,4", []int{1, 2, 4}},
		{"1-3,8", []int{1, 2, 3, 8}},
		{" 2 , 4-5 ", []int{2, 4, 5}},
		{"5", []int{5}},
		{"3-3", []int{3}},
		{"4,1-2,2", []int{4, 1, 2}}, // order kept, repeats dropped
		{"0,100", []int{0, 100}},
	}
	for _, c := range good {
		got, err := parseIntList(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseIntList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		// Formatting reads back as the same list.
		if back, err := parseIntList(formatIntList(got)); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("formatIntList(%v) = %q reads back as %v, %v", got, formatIntList(got), back, err)
		}
	}
	for _, c := range []struct {
		in   []int
		want string
	}{{[]int{1, 2, 3, 4, 5, 6}, "1-6"}, {[]int{1, 2, 4}, "1,2,4"}, {[]int{4, 1, 2, 3, 9}, "4,1-3,9"}, {[]int{7}, "7"}} {
		if got := formatIntList(c.in); got != c.want {
			t.Errorf("formatIntList(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	bad := []struct{ in, msg string }{
		{"", "empty list"},
		{"1,,2", "empty item"},
		{"6-1", "runs backwards"},
		{"x", `"x" is not a number`},
		{"1-", `"1-" is not a number`},
		{"-3", `"-3" is not a number`},
		{"1.5", `"1.5" is not a number`},
		{"1-2-3", `"1-2-3" is not a number`},
		{"1-100000", "more than 256 values"},
	}
	for _, c := range bad {
		if _, err := parseIntList(c.in); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("parseIntList(%q): error %v, want one saying %q", c.in, err, c.msg)
		}
	}
}

func TestBenchBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--difficulties", "6-1"}, "runs backwards"},
		{[]string{"--difficulties", "a-b"}, "not a number"},
		{[]string{"--difficulties", "0"}, "difficulty 0 out of range"},
		{[]string{"--difficulties", "16"}, "out of range"},
		{[]string{"--workers", "0"}, "at least 1"},
		{[]string{"--workers", "1,,2"}, "empty item"},
		{[]string{"--txs", "x"}, "not a number"},
		{[]string{"--hashers", "nope"}, "unknown kernel"},
		{[]string{"--blocks", "0"}, "--blocks"},
		{[]string{"--rate-samples", "0"}, "--rate-samples"},
		{[]string{"--baseline", "ruby"}, "--baseline"},
		{[]string{"--progress", "sometimes"}, "--progress"},
		{[]string{"--json", filepath.Join(dir, "no", "such", "dir.json")}, "--json"},
		{[]string{"--time-limit", "-1s"}, "negative"},
		{[]string{"extra"}, "no arguments"},
	}
	for _, c := range cases {
		args := append([]string{"bench", "--openssl=false", "--difficulties", "1", "--hashers", "generic", "--workers", "1", "--rate-time", "0"}, c.args...)
		out, errs, code := powchain(t, "", args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 naming %q", c.args, code, errs, out, c.want)
		}
	}
}

// TestBenchEndToEnd runs a tiny matrix and checks every output.
func TestBenchEndToEnd(t *testing.T) {
	dir := t.TempDir()
	jsonPath, csvPath, svgPath := filepath.Join(dir, "out.json"), filepath.Join(dir, "out.csv"), filepath.Join(dir, "out.svg")
	plotDir := filepath.Join(dir, "plots")
	out, errs, code := powchain(t, "", "bench", "--difficulties", "1-2", "--hashers", "generic,std", "--workers", "1",
		"--blocks", "2", "--rate-time", "50ms", "--rate-samples", "2", "--openssl=false",
		"--json", jsonPath, "--csv", csvPath, "--svg", svgPath, "--plot", plotDir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{"powchain bench", "cpu:", "Throughput", "Solve", "generic", "std"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// JSON: a header and one record per cell with the fields.
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Header  map[string]any   `json:"header"`
		Records []map[string]any `json:"records"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"powchain_version", "go_version", "cpu", "config", "command", "start", "modes"} {
		if _, ok := rep.Header[f]; !ok {
			t.Errorf("header lacks %q", f)
		}
	}
	if cpu, _ := rep.Header["cpu"].(map[string]any); cpu["model"] == nil || cpu["features"] == nil && len(cpu) < 3 {
		t.Errorf("header cpu: %v", cpu)
	}
	if cmd, _ := rep.Header["command"].(string); !strings.Contains(cmd, "--difficulties=1,2 ") {
		t.Errorf("header command %q", cmd)
	}
	// 2 kernels x 1 worker: 2 throughput cells; x 2 difficulties: 4 solve cells.
	if len(rep.Records) != 6 {
		t.Fatalf("%d records, want 6", len(rep.Records))
	}
	solveFields := []string{"mode", "hasher", "workers", "txs", "difficulty", "message_bytes", "compressions_per_hash",
		"blocks", "solved", "hashes", "seconds", "expected_hashes", "hashes_tried_mean", "hashes_tried_median",
		"tried_over_expected", "hashes_per_s_median", "hashes_per_s_min", "hashes_per_s_max",
		"compressions_per_s_median", "compressions_per_s_min", "compressions_per_s_max",
		"time_mean_s", "time_median_s", "time_p90_s", "startup_s", "scaling", "efficiency", "samples"}
	for _, r := range rep.Records {
		if r["mode"] != "solve" {
			continue
		}
		for _, f := range solveFields {
			if _, ok := r[f]; !ok {
				t.Errorf("solve record lacks %q: %v", f, r)
			}
		}
		if d := r["difficulty"].(float64); r["expected_hashes"].(float64) != map[float64]float64{1: 16, 2: 256}[d] {
			t.Errorf("difficulty %g: expected_hashes %v", d, r["expected_hashes"])
		}
		if r["solved"].(float64) != 2 || len(r["samples"].([]any)) != 2 || r["scaling"].(float64) != 1 {
			t.Errorf("solve record: %v", r)
		}
	}

	// CSV: a header row and one row per record.
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 || rows[0][0] != "mode" || rows[1][0] != "throughput" || rows[6][0] != "solve" {
		t.Errorf("CSV rows: %v", rows)
	}

	// SVG: well-formed XML with an <svg> root and the charts' text.
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" || !bytes.Contains(svg, []byte("Time to solution")) {
		t.Errorf("SVG root %q", root)
	}
	if ents, _ := os.ReadDir(plotDir); len(ents) != 6 { // rate, time, tried: SVG and PNG
		t.Errorf("--plot wrote %d files, want 6", len(ents))
	}
}

// lockedBuffer is a bytes.Buffer safe for the progress goroutine to write
// while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An interrupted bench still prints and writes what it measured, and
// exits 130.
func TestBenchInterrupted(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	var errb lockedBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"bench", "--difficulties", "1,9", "--hashers", "generic", "--workers", "1",
			"--blocks", "1", "--rate-time", "0", "--openssl=false", "--progress", "always", "--json", jsonPath},
			strings.NewReader(""), &out, &errb)
	}()
	// Difficulty 9 takes hours with the generic kernel: interrupt it once
	// the progress line says it has started.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errb.String(), "difficulty=9") {
		if time.Now().After(deadline) {
			t.Fatalf("difficulty 9 did not start; stderr %q", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	code := <-done
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "interrupted") || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("stdout %q\nstderr %q", out.String(), errb.String())
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil || !bytes.Contains(data, []byte(`"stopped": "interrupted"`)) || !bytes.Contains(data, []byte(`"difficulty": 1`)) ||
		!bytes.Contains(data, []byte(`"unfinished": true`)) {
		t.Errorf("JSON after interrupt: %v\n%s", err, data)
	}
}
