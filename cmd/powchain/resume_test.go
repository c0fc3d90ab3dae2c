package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
)

// resumeBits is the difficulty of the resume tests: 21 bits, about 2M
// hashes, a few seconds for the pure Go kernel on one goroutine.
const resumeBits = "21"

// resumeJob is a block whose lowest nonce at resumeBits is between 1.5M
// and 3M, and what an uninterrupted `powchain mine` prints for it.
type resumeJob struct {
	file  string // the block, in a file
	nonce uint64
	out   string
}

var (
	resumeOnce sync.Once
	resumeJ    resumeJob
	resumeErr  error
)

// findResumeJob mines candidate blocks once per test binary with the
// fastest kernel until one has its nonce in [1.5M, 3M): long enough to stop
// a one-goroutine generic run in the middle, short enough to finish it.
func findResumeJob(t *testing.T, bin string) resumeJob {
	t.Helper()
	resumeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "powchain-resume-")
		if err != nil {
			resumeErr = err
			return
		}
		bits, err := strconv.Atoi(resumeBits)
		if err != nil {
			resumeErr = err
			return
		}
		block, nonce, out, err := mineCandidate(bin, bits,
			`{"index": %d, "transactions": [{"author": "resume", "content": "stop and go on", "timestamp": 1700000000.5}], "timestamp": 1700000002.75, "previous_hash": "%064x"}`,
			3<<19, 3<<20, 40)
		if err != nil {
			resumeErr = err
			return
		}
		file := filepath.Join(dir, "block.json")
		if resumeErr = os.WriteFile(file, []byte(block), 0o644); resumeErr != nil {
			return
		}
		resumeJ = resumeJob{file: file, nonce: nonce, out: string(out)}
	})
	if resumeErr != nil {
		t.Fatal(resumeErr)
	}
	return resumeJ
}

// readFrontier reads a checkpoint's frontier; ok is false while there is
// none or it is 0.
func readFrontier(t *testing.T, path string) (uint64, bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCheckpoint(data)
	if err != nil {
		t.Fatalf("checkpoint %s: %v\n%s", path, err, data)
	}
	return *c.Frontier, *c.Frontier > 0
}

// waitFrontier waits until the checkpoint of c shows progress.
func waitFrontier(t *testing.T, c *child, path string) uint64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if f, ok := readFrontier(t, path); ok {
			return f
		}
		select {
		case <-c.done:
			t.Fatalf("%s exited before its checkpoint showed progress:\n%s", c.name, c.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no progress in %s after 60s", c.name, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var hashesRe = regexp.MustCompile(`after (\d+) hashes`)

// finish runs bin with args to the end (two minutes at most) and returns
// its stdout, stderr and the hashes it reports.
func finish(t *testing.T, bin string, args ...string) (string, string, uint64) {
	t.Helper()
	c := startChild(t, "the resumed run", bin, args...)
	if code := c.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("%v: exit %d\n%s", args, code, c.stderr.String())
	}
	m := hashesRe.FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("no hash count in %q", c.stderr.String())
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return c.stdout.String(), c.stderr.String(), n
}

// TestMineResume kills a real `powchain mine --checkpoint` mid-search with
// SIGKILL and with SIGINT and runs the same command again: it resumes from
// the checkpoint's frontier, prints exactly the block an uninterrupted run
// prints, hashes fewer nonces than a run from 0 must, and removes the
// checkpoint. Without --checkpoint, SIGINT says where to resume, and
// --start from there prints the same block.
func TestMineResume(t *testing.T) {
	bin := buildPowchain(t)
	job := findResumeJob(t, bin)
	// One generic goroutine: seconds of work whatever this CPU's kernels.
	slow := []string{"mine", "--bits", resumeBits, "--hasher", "generic", "--workers", "1", "--progress", "never"}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ckpt := filepath.Join(t.TempDir(), "job.ckpt")
			args := append(append([]string{}, slow...), "--checkpoint", ckpt, "--checkpoint-every", "100ms", job.file)
			c := startChild(t, "mine", bin, args...)
			waitFrontier(t, c, ckpt)
			c.signal(sig)
			code := c.wait(t, 30*time.Second)
			f, ok := readFrontier(t, ckpt)
			if !ok || f >= job.nonce {
				t.Fatalf("checkpoint frontier %d after %v; the answer is %d", f, sig, job.nonce)
			}
			if sig == syscall.SIGINT {
				want := fmt.Sprintf("interrupted: every nonce from 0 below %d was tried without a solution; saved in %s", f, ckpt)
				if code != exitInterrupted || !strings.Contains(c.stderr.String(), want) {
					t.Fatalf("after SIGINT: exit %d, stderr %q; want %d and %q", code, c.stderr.String(), exitInterrupted, want)
				}
			}
			if c.stdout.String() != "" {
				t.Fatalf("the interrupted run printed %q", c.stdout.String())
			}
			out, errOut, hashes := finish(t, bin, args...)
			if out != job.out {
				t.Fatalf("resumed from %d, printed\n%s\nan uninterrupted run prints\n%s", f, out, job.out)
			}
			if !strings.Contains(errOut, fmt.Sprintf("resuming from %s: every nonce from 0 below %d was tried", ckpt, f)) {
				t.Errorf("the resumed run did not say where it resumed: %q", errOut)
			}
			// From 0, one goroutine hashes every nonce up to the answer; from
			// f, those from f (and up to a piece past the answer).
			if hashes > job.nonce+1-f+1<<14 || hashes >= job.nonce+1 {
				t.Errorf("the resumed run hashed %d nonces from %d; the answer is %d", hashes, f, job.nonce)
			}
			if _, err := os.Stat(ckpt); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the checkpoint is still there after the block was mined: %v", err)
			}
			t.Logf("%v at frontier %d of %d; the resumed run hashed %d", sig, f, job.nonce, hashes)
		})
	}

	t.Run("SIGINT without a checkpoint", func(t *testing.T) {
		args := append(append([]string{}, slow...), job.file)
		args[len(args)-2] = "always" // --progress always: the status line shows it has started
		c := startChild(t, "mine", bin, args...)
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(c.stderr.String(), "mining: ") {
			if time.Now().After(deadline) {
				t.Fatalf("no status line after 60s: %q", c.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.signal(syscall.SIGINT)
		if code := c.wait(t, 30*time.Second); code != exitInterrupted {
			t.Fatalf("exit %d after SIGINT, want %d", code, exitInterrupted)
		}
		m := regexp.MustCompile(`every nonce from 0 below (\d+) was tried without a solution; resume with --start (\d+)`).FindStringSubmatch(c.stderr.String())
		if m == nil || m[1] != m[2] || m[1] == "0" {
			t.Fatalf("after SIGINT: %q", c.stderr.String())
		}
		// The status line's frontier is never past where the run got.
		f, _ := strconv.ParseUint(m[1], 10, 64)
		for _, s := range regexp.MustCompile(`all below (\d+) tried`).FindAllStringSubmatch(c.stderr.String(), -1) {
			if n, _ := strconv.ParseUint(s[1], 10, 64); n > f {
				t.Errorf("the status line showed %d tried, the run got to %d", n, f)
			}
		}
		out, _, _ := finish(t, bin, "mine", "--bits", resumeBits, "--start", m[1], job.file)
		if out != job.out {
			t.Fatalf("--start %s printed\n%s\nan uninterrupted run prints\n%s", m[1], out, job.out)
		}
		// Past the answer, --start finds the next solution.
		out, _, _ = finish(t, bin, "mine", "--bits", resumeBits, "--start", strconv.FormatUint(job.nonce+1, 10), job.file)
		var got struct{ Nonce uint64 }
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.Nonce <= job.nonce {
			t.Fatalf("--start %d printed %q", job.nonce+1, out)
		}
	})
}

// TestFleetCoordinatorCheckpoint kills a `powchain mine --nats-listen
// --checkpoint` coordinator with SIGKILL in the middle of a job that a
// `powchain worker` process mines, and starts it again with the same
// command: the worker reconnects, the job resumes from the checkpoint's
// frontier and ends with the block one machine's `powchain mine` prints,
// after fewer hashes than a job from 0 needs.
func TestFleetCoordinatorCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("the coordinator restart runs without -short")
	}
	bin := buildPowchain(t)
	job := findResumeJob(t, bin)
	port := freePorts(t, 1)[0]
	ckpt := filepath.Join(t.TempDir(), "fleet.ckpt")
	args := []string{"mine", "--nats-listen", fmt.Sprintf("127.0.0.1:%d", port), "--workers", "0", "--bits", resumeBits,
		"--range-time", "200ms", "--checkpoint", ckpt, "--checkpoint-every", "100ms", "--progress", "never", job.file}
	first := startChild(t, "coordinator", bin, args...)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(first.stderr.String(), "NATS server listening") {
		if time.Now().After(deadline) {
			t.Fatalf("the coordinator's NATS server did not start: %q", first.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	startChild(t, "worker", bin, "worker", "--nats", fmt.Sprintf("nats://127.0.0.1:%d", port), "--workers", "1",
		"--hasher", "generic", "--name", "w", "--progress", "never")
	f := waitFrontier(t, first, ckpt)
	first.signal(syscall.SIGKILL)
	first.wait(t, 30*time.Second)
	if f2, _ := readFrontier(t, ckpt); f2 < f || f2 >= job.nonce {
		t.Fatalf("checkpoint frontier %d after the kill (%d before); the answer is %d", f2, f, job.nonce)
	} else {
		f = f2
	}
	out, errOut, hashes := finish(t, bin, args...)
	if out != job.out {
		t.Fatalf("the restarted coordinator printed\n%s\none machine prints\n%s", out, job.out)
	}
	if !strings.Contains(errOut, fmt.Sprintf("resuming from %s: every nonce from 0 below %d was tried", ckpt, f)) {
		t.Errorf("the restarted coordinator did not say where it resumed: %q", errOut)
	}
	if !strings.Contains(errOut, "worker w (") {
		t.Errorf("the worker did not take part in the resumed job: %q", errOut)
	}
	// From 0 the fleet must hash every nonce up to the answer; from f,
	// those from f, plus at most a range past the answer.
	if hashes >= job.nonce+1 || hashes > job.nonce+1-f+1<<20 {
		t.Errorf("the resumed job hashed %d nonces from %d; the answer is %d", hashes, f, job.nonce)
	}
	if _, err := os.Stat(ckpt); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the checkpoint is still there after the block was mined: %v", err)
	}
	t.Logf("killed at frontier %d of %d; the resumed job hashed %d", f, job.nonce, hashes)
}

// TestMineHeaderCheckpoint runs `powchain mine --header --roll-time
// --checkpoint` on a header whose nonces from --start run out at its own
// nTime, interrupts it with SIGINT after it rolled to the next nTime, and
// resumes it: the checkpoint records the nTime reached, resuming it
// without --roll-time is refused naming the field, and with it the run
// prints what an uninterrupted run prints.
func TestMineHeaderCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("the header checkpoint scenario runs without -short")
	}
	bin := buildPowchain(t)
	const start = 1<<32 - 20000
	target := "000003" + strings.Repeat("f", 58) // 22 zero bits
	tg, err := hasher.ParseHeaderTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	m := engine.NewMiner(nil, 2)
	// A header (a mainnet one with its nTime moved) with no solution from
	// start at its nTime and its first one at the next nTime between 1M
	// and 4M: seconds for one generic goroutine.
	var hdr hasher.Header
	var want uint32
	found := false
	for _, row := range mainnetHeaders(t) {
		h, err := hasher.ParseHeader(row[2])
		if err != nil {
			t.Fatal(err)
		}
		for k := uint32(0); k < 40 && !found; k++ {
			h.SetTime(h.Time() + 1)
			if _, err := m.MineHeader(t.Context(), hasher.NewHeaderJob(&h), start, tg); !errors.Is(err, engine.ErrExhausted) {
				continue
			}
			next := h
			next.SetTime(h.Time() + 1)
			res, err := m.MineHeader(t.Context(), hasher.NewHeaderJob(&next), 0, tg)
			if err == nil && res.Nonce >= 1<<20 && res.Nonce < 4<<20 {
				hdr, want, found = h, res.Nonce, true
			}
		}
		if found {
			break
		}
	}
	if !found {
		t.Fatal("no header fits")
	}
	common := []string{"mine", "--header", hdr.String(), "--target", target, "--start", strconv.Itoa(start), "--progress", "never"}
	wantOut, errOut, code := powchain(t, "", append(common, "--roll-time")...)
	if code != 0 {
		t.Fatalf("uninterrupted: exit %d %s", code, errOut)
	}
	ckpt := filepath.Join(t.TempDir(), "header.ckpt")
	args := append(append([]string{}, common...), "--hasher", "generic", "--workers", "1", "--roll-time",
		"--checkpoint", ckpt, "--checkpoint-every", "50ms")
	c := startChild(t, "mine --header", bin, args...)
	deadline := time.Now().Add(60 * time.Second)
	var cp *checkpoint
	for {
		data, err := os.ReadFile(ckpt)
		if err == nil {
			if cp, err = parseCheckpoint(data); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			if *cp.Time == hdr.Time()+1 && *cp.Frontier > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint past the nTime roll after 60s: %s\n%s", data, c.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.signal(syscall.SIGINT)
	if code := c.wait(t, 30*time.Second); code != exitInterrupted {
		t.Fatalf("exit %d after SIGINT\n%s", code, c.stderr.String())
	}
	data, _ := os.ReadFile(ckpt)
	if cp, err = parseCheckpoint(data); err != nil || *cp.Time != hdr.Time()+1 || *cp.Frontier == 0 || *cp.Frontier > uint64(want) || *cp.Start != start {
		t.Fatalf("checkpoint after SIGINT: %s (%v); want nTime %d, a frontier in (0, %d], start %d", data, err, hdr.Time()+1, want, start)
	}
	if !strings.Contains(c.stderr.String(), fmt.Sprintf("every nonce from 0 below %d was tried at nTime %d", *cp.Frontier, hdr.Time()+1)) {
		t.Errorf("the interruption does not say where it got: %q", c.stderr.String())
	}

	noRoll := startChild(t, "mine --header without --roll-time", bin, append(append([]string{}, common...), "--checkpoint", ckpt)...)
	if code := noRoll.wait(t, 30*time.Second); code != exitUsage || !strings.Contains(noRoll.stderr.String(), "time: nTime") {
		t.Fatalf("resumed without --roll-time: exit %d, %q; want %d naming time", code, noRoll.stderr.String(), exitUsage)
	}
	if again, _ := os.ReadFile(ckpt); string(again) != string(data) {
		t.Fatalf("the refused run changed the checkpoint: %s, was %s", again, data)
	}
	out, errOut, hashes := finish(t, bin, args...)
	if out != wantOut {
		t.Fatalf("resumed: %s\nuninterrupted: %s", out, wantOut)
	}
	if !strings.Contains(errOut, fmt.Sprintf("resuming from %s: at nTime %d, every nonce below %d was tried", ckpt, hdr.Time()+1, *cp.Frontier)) {
		t.Errorf("the resumed run did not say where it resumed: %q", errOut)
	}
	if hashes > uint64(want)+1-*cp.Frontier+1<<14 {
		t.Errorf("the resumed run hashed %d from %d; the answer is %d", hashes, *cp.Frontier, want)
	}
	if _, err := os.Stat(ckpt); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the checkpoint is still there: %v", err)
	}
}
