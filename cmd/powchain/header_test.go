package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/powchain/powchain/hasher"
)

// mainnetHeaders reads the real headers of hasher/testdata: height, hash,
// header.
func mainnetHeaders(t *testing.T) [][3]string {
	t.Helper()
	f, err := os.Open("../../hasher/testdata/mainnet-headers.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][3]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 3 {
			t.Fatalf("bad line %q", line)
		}
		out = append(out, [3]string{fs[0], fs[1], fs[2]})
	}
	if len(out) == 0 {
		t.Fatal("no headers")
	}
	return out
}

func TestHeaderModeMainnet(t *testing.T) {
	dir := t.TempDir()
	for _, b := range mainnetHeaders(t) {
		height, hash, hdrHex := b[0], b[1], b[2]
		out, errOut, code := powchain(t, "", "hash", "--header", hdrHex)
		if code != 0 || strings.TrimSpace(out) != hash {
			t.Fatalf("block %s: hash --header = %q (exit %d, %s), want %s", height, out, code, errOut, hash)
		}
		h, err := hasher.ParseHeader(hdrHex)
		if err != nil {
			t.Fatal(err)
		}
		nonce := uint64(h.Nonce())
		// The header as a file, with a wrong nonce: mining puts the right one back.
		h.SetNonce(0)
		path := filepath.Join(dir, height+".hex")
		if err := os.WriteFile(path, []byte(h.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := nonce - min(nonce, 10000)
		for _, workers := range []string{"1", "2", "3"} {
			out, errOut, code = powchain(t, "", "mine", "--header", path, "--start", strconv.FormatUint(start, 10), "--workers", workers)
			if code != 0 {
				t.Fatalf("block %s: mine --header exit %d: %s", height, code, errOut)
			}
			var got headerOutput
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("block %s: output %q: %v", height, out, err)
			}
			if uint64(got.Nonce) != nonce || got.Hash != hash || got.Header != hdrHex {
				t.Fatalf("block %s, %s workers: mined %+v, want nonce %d hash %s", height, workers, got, nonce, hash)
			}
		}
	}
}

// TestHeaderModeExhaustedAndRollTime mines the genesis header's last 3000
// nonces against a target none of them meets (found with the reference
// code first): exit 1 without --roll-time; with it, the answer is the
// lowest nonce from 0 at nTime+1.
func TestHeaderModeExhaustedAndRollTime(t *testing.T) {
	h, err := hasher.ParseHeader(mainnetHeaders(t)[0][2])
	if err != nil {
		t.Fatal(err)
	}
	const start = 1<<32 - 3000
	var target string
	var tg hasher.HeaderTarget
	// The largest target of the form 0...0fff...f that no nonce in the
	// range meets.
	for zeros := 1; zeros < 64; zeros++ {
		target = strings.Repeat("0", zeros) + strings.Repeat("f", 64-zeros)
		tg, _ = hasher.ParseHeaderTarget(target)
		met := false
		for n := uint64(start); n < 1<<32 && !met; n++ {
			h.SetNonce(uint32(n))
			d := hasher.Sha256d(&h)
			met = tg.Meets(&d)
		}
		if !met {
			break
		}
	}
	_, errOut, code := powchain(t, "", "mine", "--header", h.String(), "--start", strconv.Itoa(start), "--target", target)
	if code != 1 || !strings.Contains(errOut, "nonce space exhausted") {
		t.Fatalf("exit %d, %q; want 1 and nonce space exhausted", code, errOut)
	}
	want := h
	want.SetTime(h.Time() + 1)
	var wantNonce uint32
	for n := uint32(0); ; n++ {
		want.SetNonce(n)
		d := hasher.Sha256d(&want)
		if tg.Meets(&d) {
			wantNonce = n
			break
		}
	}
	out, errOut, code := powchain(t, "", "mine", "--header", h.String(), "--start", strconv.Itoa(start), "--target", target, "--roll-time")
	var got headerOutput
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("--roll-time: exit %d, %q %s", code, out, errOut)
	}
	if got.Time != h.Time()+1 || got.Nonce != wantNonce || got.Header != want.String() {
		t.Fatalf("--roll-time: got %+v, want time %d nonce %d", got, h.Time()+1, wantNonce)
	}
}

func TestHeaderModeBadInput(t *testing.T) {
	good := mainnetHeaders(t)[0][2]
	for _, args := range [][]string{
		{"mine", "--header", "abcd"},
		{"mine", "--header", strings.Repeat("zz", 80)},
		{"mine", "--header", good, "--bits", "xyz"},
		{"mine", "--header", good, "--bits", "1d80ffff"},
		{"mine", "--header", good, "--bits", "ff00ffff"},
		{"mine", "--header", good, "--target", "not hex"},
		{"mine", "--header", good, "--start", "4294967296"},
		{"mine", "--header", good, "--difficulty", "3"},
		{"mine", "--start", "5"},
		{"hash", "--header", "/no/such/file"},
	} {
		_, errOut, code := powchain(t, "", args...)
		if code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, %q; want 2 and a message", args, code, errOut)
		}
	}
}

func TestBenchModeSHA256d(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "run.json")
	out, errOut, code := powchain(t, "", "bench", "--mode", "sha256d", "--hashers", "generic,std", "--workers", "1,2",
		"--rate-time", "30ms", "--rate-samples", "2", "--progress", "never", "--json", jsonPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"sha256d", "generic", "std", "MH/s"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}

	// --from draws the saved header-mode run again, as a header-mode
	// report, without --mode and without measuring.
	svgPath := filepath.Join(dir, "run.svg")
	again, errOut, code := powchain(t, "", "bench", "--from", jsonPath, "--svg", svgPath)
	if code != 0 {
		t.Fatalf("bench --from a sha256d report: exit %d: %s", code, errOut)
	}
	if table := func(s string) string { _, t, _ := strings.Cut(s, "\nkernel"); return t }; table(again) != table(out) {
		t.Errorf("bench --from printed another table:\n%s\nwant:\n%s", again, out)
	}
	if svg, err := os.ReadFile(svgPath); err != nil || !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), "sha256d") {
		t.Errorf("bench --from --svg: %v, %d bytes, want the header-mode chart", err, len(svg))
	}
	_, errOut, code = powchain(t, "", "bench", "--from", jsonPath, "--mode", "json")
	if code != 2 || !strings.Contains(errOut, "sha256d report") {
		t.Errorf("bench --from a sha256d report --mode json: exit %d (%s), want 2 naming the report's mode", code, errOut)
	}
	for _, args := range [][]string{
		{"bench", "--mode", "sha256d", "--baseline", "cpuminer"},
		{"bench", "--mode", "sha256d", "--baseline", "cpuminer=/no/such/miner"},
		{"bench", "--mode", "sha256d", "--difficulties", "3"},
		{"bench", "--mode", "nope"},
	} {
		_, errOut, code := powchain(t, "", args...)
		if code != 2 {
			t.Errorf("%q: exit %d (%s), want 2", args, code, errOut)
		}
	}
}
