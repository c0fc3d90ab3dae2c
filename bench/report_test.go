package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/powchain/powchain/hasher"
)

func nonce(n uint64) *uint64 { return &n }

// knownReport is a report with hand-made samples whose statistics are
// easy to work out.
func knownReport() *Report {
	rep := &Report{
		Header: Header{
			CPU:     hasher.CPUInfo{Model: "Test CPU", Threads: 2},
			OpenSSL: &OpenSSLRef{CompressionsPerSec: 10e6},
			Python:  []PythonRef{{Txs: 1, HashesPerSec: 100e3}},
			Config:  ConfigInfo{Blocks: 4, RateTime: 1, RateSamples: 2},
			Version: "v-test",
		},
		startup: map[cellKey]float64{
			{hasher: "k", workers: 1, txs: 1}: 0.001,
			{hasher: "k", workers: 2, txs: 1}: 0.002,
		},
	}
	rep.Records = []Record{
		{Mode: "throughput", Hasher: "k", Workers: 1, Txs: 1, Samples: []Sample{
			{Hashes: 4e6, Seconds: 1, Compressions: 16e6}, // 4 MH/s
			{Hashes: 6e6, Seconds: 1, Compressions: 24e6}, // 6 MH/s
		}},
		{Mode: "throughput", Hasher: "k", Workers: 2, Txs: 1, Samples: []Sample{
			{Hashes: 9e6, Seconds: 1, Compressions: 36e6},
			{Hashes: 7e6, Seconds: 1, Compressions: 28e6},
			{Hashes: 8e6, Seconds: 1, Compressions: 32e6},
		}},
		// Difficulty 2: 256 hashes expected. Four blocks, one abandoned.
		{Mode: "solve", Hasher: "k", Workers: 1, Txs: 1, Difficulty: 2, Blocks: 4, Samples: []Sample{
			{Block: 0, Nonce: nonce(99), Hashes: 100, Seconds: 0.001, Compressions: 400},   // 100 kH/s
			{Block: 1, Nonce: nonce(299), Hashes: 300, Seconds: 0.002, Compressions: 1200}, // 150 kH/s
			{Block: 2, Nonce: nonce(799), Hashes: 800, Seconds: 0.004, Compressions: 3200}, // 200 kH/s
			{Block: 3, Unfinished: true, Hashes: 5000, Seconds: 1, Compressions: 20000},
		}},
		{Mode: "solve", Hasher: "k", Workers: 2, Txs: 1, Difficulty: 2, Blocks: 3, Samples: []Sample{
			{Block: 0, Nonce: nonce(99), Hashes: 2100, Seconds: 0.01, Compressions: 8400},
			{Block: 1, Nonce: nonce(299), Hashes: 2300, Seconds: 0.01, Compressions: 9200},
			{Block: 2, Nonce: nonce(799), Hashes: 2800, Seconds: 0.01, Compressions: 11200},
		}},
	}
	rep.derive()
	return rep
}

func TestDerive(t *testing.T) {
	rep := knownReport()
	t1, t2, s1, s2 := &rep.Records[0], &rep.Records[1], &rep.Records[2], &rep.Records[3]
	check := func(what string, got, want float64) {
		t.Helper()
		if !near(got, want) {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}
	check("t1 rate median", t1.RateMedian, 5e6)
	check("t1 rate min", t1.RateMin, 4e6)
	check("t1 rate max", t1.RateMax, 6e6)
	check("t1 compressions median", t1.CompMedian, 20e6)
	check("t1 compressions per hash", t1.CompressionsPerHash, 4)
	check("t1 scaling", t1.Scaling, 1)
	check("t1 efficiency", t1.Efficiency, 1)
	check("t1 vs openssl", t1.VsOpenSSL, 2) // 20M / 10M on one core
	check("t1 vs python", t1.VsPython, 50)  // 5M / 100k
	check("t1 startup", t1.Startup, 0.001)
	check("t2 rate median", t2.RateMedian, 8e6)
	check("t2 scaling", t2.Scaling, 8.0/5)
	check("t2 efficiency", t2.Efficiency, 0.8)
	check("t2 vs openssl", t2.VsOpenSSL, 32e6/20e6) // two workers: two cores of openssl
	if t1.Hashes != 10e6 || t1.Seconds != 2 || t1.Solved != 0 || t1.ExpectedHashes != 0 || t1.TimeMean != 0 {
		t.Errorf("throughput record has solve fields: %+v", t1)
	}

	// Solve: the abandoned block counts in the totals, not the statistics.
	if s1.Solved != 3 || s1.Unfinished != 1 || s1.Hashes != 6200 {
		t.Errorf("s1 solved %d unfinished %d hashes %d", s1.Solved, s1.Unfinished, s1.Hashes)
	}
	check("s1 expected", s1.ExpectedHashes, 256)
	check("s1 tried mean", s1.TriedMean, 400)
	check("s1 tried median", s1.TriedMedian, 300)
	check("s1 tried/expected", s1.TriedOverExpected, 400.0/256)
	check("s1 time mean", s1.TimeMean, 0.007/3)
	check("s1 time median", s1.TimeMedian, 0.002)
	check("s1 time p90", s1.TimeP90, 0.0036) // h = 1.8: 0.002 + 0.8*0.002
	check("s1 rate median", s1.RateMedian, 150e3)
	check("s1 rate min", s1.RateMin, 100e3)
	check("s1 rate max", s1.RateMax, 200e3)
	check("s1 startup share", s1.StartupShare, 0.5)
	if !s1.StartupBound {
		t.Error("s1: start-up is half the time but not marked start-up bound")
	}
	check("s2 rate median", s2.RateMedian, 230e3)
	check("s2 scaling", s2.Scaling, 230.0/150)
	check("s2 startup share", s2.StartupShare, 0.2)
}

func TestDeriveWithoutOneWorker(t *testing.T) {
	rep := &Report{Header: Header{CPU: hasher.CPUInfo{Threads: 4}}, Records: []Record{
		{Mode: "throughput", Hasher: "k", Workers: 2, Txs: 1, Samples: []Sample{{Hashes: 10, Seconds: 1}}},
	}}
	rep.derive()
	if r := rep.Records[0]; r.Scaling != 0 || r.Efficiency != 0 || r.VsOpenSSL != 0 || r.VsPython != 0 {
		t.Errorf("fields without a base are set: %+v", r)
	}
	out, _ := json.Marshal(rep.Records[0])
	for _, f := range []string{"scaling", "efficiency", "vs_openssl", "vs_python", "difficulty", "time_mean_s"} {
		if strings.Contains(string(out), `"`+f+`"`) {
			t.Errorf("JSON has %q though it does not apply: %s", f, out)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	rep := knownReport()
	var b bytes.Buffer
	if err := rep.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(rep.Records) {
		t.Fatalf("%d rows, want a header and %d records", len(rows), len(rep.Records))
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"mode", "hasher", "workers", "txs", "difficulty", "hashes_per_s_median", "time_p90_s",
		"expected_hashes", "scaling", "efficiency", "vs_openssl", "cpu", "go_version", "powchain_version"} {
		if _, ok := col[name]; !ok {
			t.Errorf("no column %q", name)
		}
	}
	s1 := rows[3]
	if s1[col["mode"]] != "solve" || s1[col["difficulty"]] != "2" || s1[col["time_median_s"]] != "0.002" ||
		s1[col["hashes_per_s_median"]] != "150000" || s1[col["startup_bound"]] != "true" || s1[col["cpu"]] != "Test CPU" {
		t.Errorf("solve row: %v", s1)
	}
	if t1 := rows[1]; t1[col["difficulty"]] != "" || t1[col["time_mean_s"]] != "" || t1[col["hashes_per_s_median"]] != "5e+06" {
		t.Errorf("throughput row: %v", t1)
	}
}

func TestWriteJSONAndText(t *testing.T) {
	rep := knownReport()
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Header  map[string]any   `json:"header"`
		Records []map[string]any `json:"records"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Header["powchain_version"] != "v-test" || len(back.Records) != 4 {
		t.Fatalf("JSON: %v, %d records", back.Header, len(back.Records))
	}
	if s := back.Records[2]; s["hashes_per_s_median"] != 150e3 || s["expected_hashes"] != 256.0 || len(s["samples"].([]any)) != 4 {
		t.Errorf("solve record: %v", s)
	}

	b.Reset()
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{"Test CPU", "v-test", "Throughput", "Solve", "5.00 MH/s", "start-up bound (50%)", "1 unfinished"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{si(0), "-"}, {si(5), "5.00"}, {si(12.34), "12.3"}, {si(999), "999"}, {si(1000), "1.00k"},
		{si(25.8e6), "25.8M"}, {siUnit(5e6, "H/s"), "5.00 MH/s"}, {siUnit(512, "H/s"), "512 H/s"},
		{dur(38e-6), "38.0µs"}, {dur(0.0123), "12.3ms"}, {dur(2.5), "2.50s"}, {dur(0), "-"},
		{secondsLabel(-6), "1µs"}, {secondsLabel(-4), "100µs"}, {secondsLabel(-3), "1ms"}, {secondsLabel(0), "1s"},
		{secondsLabel(2), "100s"}, {secondsLabel(-7), "100ns"}, {countLabel(0), "1"}, {countLabel(4), "10k"}, {countLabel(7), "10M"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
