package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// checkpointTestJob is a block job with a known solution: the seed loop's
// nonce at difficulty 2 of a small block, found here by the engine.
func checkpointTestJob(t testing.TB) (checkpointJob, uint64) {
	t.Helper()
	b, err := engine.DecodeBlock([]byte(`{"index": 3, "transactions": [], "timestamp": 1700000000.5, "previous_hash": "ab"}`), engine.BlockOptions{NoNonce: true})
	if err != nil {
		t.Fatal(err)
	}
	mined, _, err := engine.MineBlock(t.Context(), engine.NewMiner(nil, 1), b, mustTarget(t, 8))
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := b.Template()
	return blockJob(tpl, mustTarget(t, 8)), mined.Nonce
}

func mustTarget(t testing.TB, bits int) hasher.Target {
	tg, err := hasher.TargetBits(bits)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestCheckpointRefused: a checkpoint that is malformed, of another job,
// inconsistent or with a best solution that does not re-hash is refused,
// and the error names the field; good ones resume where they say.
func TestCheckpointRefused(t *testing.T) {
	job, sol := checkpointTestJob(t)
	var hdr hasher.Header
	hdr.SetTime(1000)
	htarget, _ := hasher.ParseHeaderTarget("00000fff")
	hjob := headerJob(hdr, htarget)
	other := strings.Repeat("ab", 32)
	blockCP := func(start, frontier uint64, extra string) string {
		return fmt.Sprintf(`{"version":1,"mode":"block","key":%q,"start":%d,"frontier":%d%s}`, job.key, start, frontier, extra)
	}
	headerCP := func(start, frontier uint64, time uint32) string {
		return fmt.Sprintf(`{"version":1,"mode":"header","key":%q,"start":%d,"frontier":%d,"time":%d}`, hjob.key, start, frontier, time)
	}
	for _, tc := range []struct {
		data  string
		job   checkpointJob
		start uint64
		roll  bool
		field string // in the error; "" for a good checkpoint
		want  resumePoint
	}{
		{data: ``, job: job, field: "not a checkpoint"},
		{data: `{"version":1,`, job: job, field: "not a checkpoint"},
		{data: `[1,2]`, job: job, field: "not a checkpoint"},
		{data: blockCP(0, 5, "") + ` {}`, job: job, field: "data after"},
		{data: blockCP(0, 5, `,"extra":1`), job: job, field: "extra"},
		{data: `{"mode":"block","key":"` + job.key + `","start":0,"frontier":5}`, job: job, field: "version: missing"},
		{data: strings.Replace(blockCP(0, 5, ""), `"version":1`, `"version":2`, 1), job: job, field: "version: 2"},
		{data: strings.Replace(blockCP(0, 5, ""), `"block"`, `"blob"`, 1), job: job, field: "mode:"},
		{data: strings.Replace(blockCP(0, 5, ""), job.key, "abc", 1), job: job, field: "key: 3 characters"},
		{data: strings.Replace(blockCP(0, 5, ""), job.key, strings.Repeat("zz", 32), 1), job: job, field: "key:"},
		{data: strings.Replace(blockCP(0, 5, ""), job.key, other, 1), job: job, field: "key: the checkpoint is of another job"},
		{data: strings.Replace(blockCP(0, 5, ""), `"start":0,`, ``, 1), job: job, field: "start: missing"},
		{data: strings.Replace(blockCP(0, 5, ""), `,"frontier":5`, ``, 1), job: job, field: "frontier: missing"},
		{data: strings.Replace(blockCP(0, 5, ""), `"frontier":5`, `"frontier":18446744073709551616`, 1), job: job, field: "not a checkpoint"},
		{data: strings.Replace(blockCP(0, 5, ""), `"frontier":5`, `"frontier":-5`, 1), job: job, field: "not a checkpoint"},
		{data: blockCP(0, 5, "")[:20], job: job, field: "not a checkpoint"},
		{data: blockCP(9, 5, ""), job: job, field: "frontier: 5 is below start 9"},
		{data: blockCP(0, sol+1, fmt.Sprintf(`,"best":%d`, sol)), job: job, field: "frontier:"},
		{data: blockCP(0, 0, fmt.Sprintf(`,"best":%d`, sol+1)), job: job, field: "best: nonce"},
		{data: blockCP(0, 0, `,"best":18446744073709551615`), job: job, field: "best: nonce"},
		{data: blockCP(0, 5, `,"time":7`), job: job, field: "time:"},
		{data: blockCP(4, 5, ""), job: job, start: 3, field: "start: the checkpoint covers the nonces from 4"},
		{data: blockCP(0, 5, ""), job: hjob, field: "mode:"},
		{data: `{"version":1,"mode":"header","key":"` + hjob.key + `","start":0,"frontier":5}`, job: hjob, field: "time: missing"},
		{data: headerCP(0, 5, 1000)[:len(headerCP(0, 5, 1000))-1] + `,"best":3}`, job: hjob, field: "best:"},
		{data: headerCP(0, 1<<32+1, 1000), job: hjob, field: "frontier:"},
		{data: headerCP(0, 5, 999), job: hjob, field: "time: nTime 999 is before"},
		{data: headerCP(9, 5, 1000), job: hjob, start: 9, field: "frontier: 5 is below start 9"},
		{data: headerCP(0, 5, 1001), job: hjob, field: "time: nTime 1001 is past"},
		{data: strings.Repeat(" ", maxCheckpointSize+1), job: job, field: "bytes"},

		// Good ones.
		{data: blockCP(0, 5, ""), job: job, want: resumePoint{Frontier: 5, Best: math.MaxUint64}},
		{data: blockCP(0, 5, ""), job: job, start: 9, want: resumePoint{Frontier: 9, Best: math.MaxUint64}},
		{data: blockCP(0, 2, fmt.Sprintf(`,"best":%d`, sol)), job: job, want: resumePoint{Frontier: 2, Best: sol}},
		{data: blockCP(0, sol, fmt.Sprintf(`,"best":%d`, sol)), job: job, want: resumePoint{Frontier: sol, Best: sol}},
		{data: blockCP(0, 2, fmt.Sprintf(`,"best":%d`, sol)), job: job, start: sol + 1, want: resumePoint{Frontier: sol + 1, Best: math.MaxUint64}},
		{data: headerCP(0, 5, 1000), job: hjob, want: resumePoint{Frontier: 5, Best: math.MaxUint64, Time: 1000}},
		{data: headerCP(7, 8, 1001), job: hjob, start: 7, roll: true, want: resumePoint{Frontier: 8, Best: math.MaxUint64, Time: 1001}},
		{data: headerCP(7, 3, 1001), job: hjob, start: 7, roll: true, want: resumePoint{Frontier: 3, Best: math.MaxUint64, Time: 1001}},
		{data: headerCP(0, 1<<32, 1000), job: hjob, want: resumePoint{Frontier: 1 << 32, Best: math.MaxUint64, Time: 1000}},
	} {
		c, err := parseCheckpoint([]byte(tc.data))
		var at resumePoint
		if err == nil {
			at, err = c.resume(tc.job, tc.start, tc.roll)
		}
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.data, err)
		case tc.field == "" && at != tc.want:
			t.Errorf("%s: resume at %+v, want %+v", tc.data, at, tc.want)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%.200s: error %v, want one naming %q", tc.data, err, tc.field)
		}
	}
}

// FuzzCheckpoint: whatever a checkpoint file holds, reading it does not
// panic; what is accepted is consistent (start <= frontier <= best, a
// best that re-hashes, the frontier within the nonce space) and written
// back the same.
func FuzzCheckpoint(f *testing.F) {
	job, sol := checkpointTestJob(f)
	f.Add([]byte(fmt.Sprintf(`{"version":1,"mode":"block","key":%q,"start":0,"frontier":5}`, job.key)), uint64(0))
	f.Add([]byte(fmt.Sprintf(`{"version":1,"mode":"block","key":%q,"start":1,"frontier":2,"best":%d}`, job.key, sol)), uint64(1))
	f.Add([]byte(`{"version":1,"mode":"header","key":"00","start":0,"frontier":5,"time":3}`), uint64(0))
	f.Add([]byte(`{}`), uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, start uint64) {
		c, err := parseCheckpoint(data)
		if err != nil {
			return
		}
		if (*c.Mode == "block" && *c.Frontier < *c.Start) || (c.Best != nil && *c.Best < *c.Frontier) {
			t.Fatalf("accepted an inconsistent checkpoint: %s", data)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := parseCheckpoint(again)
		if err != nil {
			t.Fatalf("%s written back as %s: %v", data, again, err)
		}
		if again2, _ := json.Marshal(c2); string(again2) != string(again) {
			t.Fatalf("%s read back as %s", again, again2)
		}
		at, err := c.resume(job, start, false)
		if err != nil {
			return
		}
		if at.Frontier < start || at.Frontier > job.limit || (at.Best != math.MaxUint64 && (at.Best < at.Frontier || !job.verify(at.Best))) {
			t.Fatalf("%s from --start %d: resume at %+v", data, start, at)
		}
	})
}

// TestCheckpointOfAnotherJob: a checkpoint left by an interrupted mine is
// refused (exit 2, naming the key, the file untouched) by a mine of
// another block or at another difficulty, and taken by the same job,
// whatever its kernel and worker count.
func TestCheckpointOfAnotherJob(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "job.ckpt")
	blockA := `{"index": 1, "transactions": [], "timestamp": 1700000000.5, "previous_hash": "aa"}`
	blockB := `{"index": 2, "transactions": [], "timestamp": 1700000000.5, "previous_hash": "aa"}`
	// A mine interrupted as soon as its checkpoint is written.
	interrupt := func(bits string, block string, extra ...string) (int, string) {
		t.Helper()
		os.Remove(ckpt)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			for ctx.Err() == nil {
				if _, err := os.Stat(ckpt); err == nil {
					cancel()
				}
				time.Sleep(time.Millisecond)
			}
		}()
		var out, errb bytes.Buffer
		args := append([]string{"mine", "--bits", bits, "--start", "1000", "--checkpoint", ckpt}, extra...)
		return run(ctx, args, strings.NewReader(block), &out, &errb), errb.String()
	}
	code, errs := interrupt("40", blockA)
	if code != exitInterrupted || !strings.Contains(errs, "every nonce from 1000 below ") {
		t.Fatalf("interrupted mine: exit %d, %q", code, errs)
	}
	saved, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		block string
		args  []string
		want  string
	}{
		{blockB, []string{"--bits", "40", "--start", "1000"}, "key: the checkpoint is of another job"},
		{blockA, []string{"--bits", "39", "--start", "1000"}, "key: the checkpoint is of another job"},
		{blockA, []string{"--bits", "40"}, "start: the checkpoint covers the nonces from 1000"},
		{blockA, []string{"--header", strings.Repeat("00", 80), "--bits", "1d00ffff"}, "mode: a block checkpoint"},
		{blockA, []string{"--bits", "40", "--checkpoint-every", "0s"}, "--checkpoint-every must be positive"},
	} {
		args := append(append([]string{"mine"}, tc.args...), "--checkpoint", ckpt)
		if !slices.Contains(tc.args, "--header") {
			args = append(args, "-")
		}
		_, errs, code := powchain(t, tc.block, args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, exitUsage, tc.want)
		}
		if now, _ := os.ReadFile(ckpt); !bytes.Equal(now, saved) {
			t.Fatalf("%v changed the checkpoint: %s, was %s", tc.args, now, saved)
		}
	}
	if _, errs, code := powchain(t, blockA, "mine", "--start", "18446744073709551615", "-"); code != exitUsage || !strings.Contains(errs, "--start") {
		t.Errorf("--start 2^64-1: exit %d, %q", code, errs)
	}
	// The same job, another kernel and worker count: it resumes and
	// prints what a run from --start prints, and removes the checkpoint.
	want, _, code := powchain(t, blockA, "mine", "--bits", "20", "--start", "1000", "-")
	if code != 0 {
		t.Fatalf("mine --start 1000: exit %d", code)
	}
	if code, errs := interrupt("20", blockA, "--hasher", "generic", "--workers", "1"); code != exitInterrupted {
		t.Fatalf("interrupted mine at 20 bits: exit %d %q", code, errs)
	}
	got, errs, code := powchain(t, blockA, "mine", "--bits", "20", "--start", "1000", "--checkpoint", ckpt, "--workers", "3", "-")
	if code != 0 || got != want || !strings.Contains(errs, "mined block") {
		t.Fatalf("resumed: exit %d, %q %q; want %q", code, got, errs, want)
	}
	if _, err := os.Stat(ckpt); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the checkpoint is still there: %v", err)
	}
}
