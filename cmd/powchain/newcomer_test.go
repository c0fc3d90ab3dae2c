package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/powchain/powchain/bench"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/internal/testvectors"
)

// The tests in this file are what a person meets in the first hour: a
// command waiting on a terminal, Ctrl-C, flags after FILE, help, messages
// and exit codes.

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

// sharedBinary builds the powchain binary once for the tests in this file.
func sharedBinary(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "powchain-bin-")
		if err != nil {
			builtErr = err
			return
		}
		builtBin = filepath.Join(dir, "powchain")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			builtErr = errors.New(string(out))
		}
	})
	if builtErr != nil {
		t.Fatalf("go build: %v", builtErr)
	}
	return builtBin
}

// waitExit waits at most d for cmd to exit and returns its exit code,
// killing it and failing the test when it does not.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration, what string) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return 0
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: still running after %v", what, d)
		return -1
	}
}

// ptyOutput is what a command wrote to its terminal.
type ptyOutput struct {
	lockedBuffer
	done chan struct{} // closed when the terminal has no more to read
}

// all returns the whole output once the command has exited and the
// terminal is drained (at most 10 s later).
func (o *ptyOutput) all() string {
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
	}
	return o.String()
}

// startOnPTY starts bin with args on a new pseudo-terminal: stdin, stdout
// and stderr are the terminal, as when a person types the command. It
// returns the terminal's other end, whose output is collected in out.
func startOnPTY(t *testing.T, bin string, args ...string) (*exec.Cmd, *os.File, *ptyOutput) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	out := &ptyOutput{done: make(chan struct{})}
	go func() {
		// Reading ends (EIO on Linux) once the command, the terminal's
		// only other holder, has exited and its output is read.
		io.Copy(out, tty)
		close(out.done)
	}()
	return cmd, tty, out
}

// waitReading waits until process pid is blocked reading its stdin (a
// thread in read(0, ...), as /proc/PID/task/*/syscall shows on Linux), so
// that a signal sent next arrives during the read and not before main has
// set up its handling. Where /proc says nothing it waits 3 s at most.
func waitReading(pid int) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
		for _, f := range tasks {
			if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(string(b), "0 0x0 ") {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTerminalStdinWithoutFile: mine, hash, verify and import with no FILE
// on a terminal print their usage and exit 2 at once instead of waiting.
func TestTerminalStdinWithoutFile(t *testing.T) {
	bin := sharedBinary(t)
	for _, args := range [][]string{{"mine"}, {"hash"}, {"verify"}, {"import", "--data", t.TempDir()}} {
		cmd, _, out := startOnPTY(t, bin, args...)
		code := waitExit(t, cmd, 10*time.Second, strings.Join(args, " ")+" on a terminal")
		text := out.all()
		if code != exitUsage || !strings.Contains(text, "stdin is a terminal") || !strings.Contains(text, "Usage: powchain "+args[0]) {
			t.Errorf("%v on a terminal: exit %d, output %q; want exit 2 and the usage", args, code, text)
		}
	}
}

// TestInterruptDuringRead: Ctrl-C typed on the terminal stops a command
// reading stdin ("-" asks for it explicitly), and SIGTERM stops one
// reading a pipe that never ends: exit 130 at once.
func TestInterruptDuringRead(t *testing.T) {
	bin := sharedBinary(t)
	for _, name := range []string{"mine", "hash", "verify"} {
		cmd, tty, out := startOnPTY(t, bin, name, "-")
		waitReading(cmd.Process.Pid)
		tty.Write([]byte{3}) // ^C: the terminal sends SIGINT
		if code := waitExit(t, cmd, 10*time.Second, name+" after ^C"); code != exitInterrupted {
			t.Errorf("%s after ^C: exit %d, want 130; output %q", name, code, out.String())
		}
	}

	cmd := exec.Command(bin, "verify")
	w, err := cmd.StdinPipe() // never written, never closed
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitReading(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, 10*time.Second, "verify after SIGTERM"); code != exitInterrupted ||
		!strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("verify after SIGTERM: exit %d, stderr %q; want 130, interrupted", code, stderr.String())
	}
}

// TestFlagsAfterFile: flags may follow FILE, and "--" ends the flags.
func TestFlagsAfterFile(t *testing.T) {
	dir := t.TempDir()
	block := filepath.Join(dir, "block.json")
	os.WriteFile(block, []byte(`{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": "0"}`), 0o644)
	before, errs, code := powchain(t, "", "mine", "--difficulty", "3", "--workers", "1", block)
	if code != 0 {
		t.Fatalf("mine with flags first: exit %d %s", code, errs)
	}
	after, errs, code := powchain(t, "", "mine", block, "--difficulty", "3", "--workers", "1")
	if code != 0 || after != before || !strings.Contains(after, `"hash": "000`) {
		t.Fatalf("mine FILE --difficulty 3: exit %d %q %s, want %q", code, after, errs, before)
	}
	mixed, _, code := powchain(t, "", "mine", "--workers", "1", block, "--difficulty=3")
	if code != 0 || mixed != before {
		t.Fatalf("mine --workers 1 FILE --difficulty=3: exit %d %q", code, mixed)
	}
	// After "--" everything is a FILE, even what looks like a flag.
	_, errs, code = powchain(t, "", "hash", "--", "--difficulty")
	if code != exitUsage || !strings.Contains(errs, "--difficulty: no such file") {
		t.Fatalf("hash -- --difficulty: exit %d %q", code, errs)
	}
	// A misplaced unknown flag is named wherever it stands.
	_, errs, code = powchain(t, "", "hash", block, "--nosuch")
	if code != exitUsage || !strings.Contains(errs, "nosuch") {
		t.Fatalf("hash FILE --nosuch: exit %d %q", code, errs)
	}
}

// TestHelp: examples in every command's help, the exit codes only in
// powchain help, no [flags] without flags, no sentinel defaults, and an
// unknown command named with the list of commands.
func TestHelp(t *testing.T) {
	top, _, code := powchain(t, "", "help")
	if code != 0 || strings.Count(top, "Exit codes") != 1 || !strings.Contains(top, "130") {
		t.Fatalf("help: exit %d %q", code, top)
	}
	for name := range commands {
		out, _, code := powchain(t, "", "help", name)
		if code != 0 {
			t.Fatalf("help %s: exit %d", name, code)
		}
		_, examples, _ := strings.Cut(out, "\nExamples:\n")
		examples, _, _ = strings.Cut(examples, "\n\n")
		n := 0
		for _, l := range strings.Split(examples, "\n") {
			if strings.HasPrefix(l, "  ") && strings.Contains(l, "powchain "+name) {
				n++
			}
		}
		if n < 2 || n > 3 {
			t.Errorf("help %s: %d examples, want 2 or 3:\n%s", name, n, out)
		}
		if strings.Contains(out, "Exit codes") {
			t.Errorf("help %s repeats the exit codes:\n%s", name, out)
		}
		if strings.Contains(out, "(default -1)") || strings.Contains(out, "(default \"\")") {
			t.Errorf("help %s shows a sentinel default:\n%s", name, out)
		}
		fs := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "  --") {
				fs++
			}
		}
		if usage := strings.SplitN(out, "\n", 2)[0]; (fs == 0) == strings.Contains(usage, "[flags]") {
			t.Errorf("help %s: %d flags, usage line %q", name, fs, usage)
		}
	}
	for _, args := range [][]string{{"help", "nosuch"}, {"--help", "nosuch"}} {
		out, errs, code := powchain(t, "", args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, `unknown command "nosuch"`) ||
			!strings.Contains(errs, "  mine ") || !strings.Contains(errs, "  verify ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2, unknown command and the list", args, code, out, errs)
		}
	}
}

// TestExitCodes: a bad listen address and an unwritable profile path are
// bad usage (2), refused before any work.
func TestExitCodes(t *testing.T) {
	block := `{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": "0"}`
	noDir := filepath.Join(t.TempDir(), "missing", "p.out")
	cases := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"serve", "--addr", ":99999", "--data", t.TempDir()}, "--addr"},
		{"", []string{"serve", "--addr", "localhost", "--data", t.TempDir()}, "--addr"},
		{"", []string{"serve", "--addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:70000", "--data", t.TempDir()}, "--debug-addr"},
		// A flag's value is named by the flag, not by the API's field.
		{"", []string{"serve", "--addr", "127.0.0.1:0", "--peers", "ftp://h", "--data", t.TempDir()}, `--peers: "ftp://h": want an http:// or https:// URL`},
		{"", []string{"serve", "--addr", "127.0.0.1:0", "--advertise", "h:1", "--data", t.TempDir()}, `--advertise: "h:1": want an http:// or https:// URL`},
		{block, []string{"mine", "--difficulty", "5", "--memprofile", noDir}, "--memprofile"},
		{block, []string{"mine", "--difficulty", "5", "--cpuprofile", noDir}, "--cpuprofile"},
		{"", []string{"bench", "--difficulties", "9", "--rate-time", "0", "--openssl=false", "--time-limit", "3s", "--memprofile", noDir}, "--memprofile"},
	}
	for _, c := range cases {
		// Refused before the work: no mined block, no report on stdout.
		out, errs, code := powchain(t, c.stdin, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 naming %s and nothing done", c.args, code, errs, out, c.want)
		}
	}
}

// TestImportLeavesNothingBehind: an import that fails, whether the file is
// not a chain dump, is an empty chain, or holds a block that breaks a
// rule, creates no data dir and no store.
func TestImportLeavesNothingBehind(t *testing.T) {
	var invalid string
	for _, v := range chainVectors(t) {
		if !v.valid {
			invalid = v.dump
			break
		}
	}
	for _, c := range []struct {
		name, dump string
		code       int
	}{
		{"empty chain", `{"length": 0, "chain": [], "peers": []}`, exitUsage},
		{"bare empty array", `[]`, exitUsage},
		{"not a dump", `{"index": 1}`, exitUsage},
		{"not JSON", `chain`, exitUsage},
		{"a block breaks a rule", invalid, exitInvalid},
	} {
		data := filepath.Join(t.TempDir(), "node")
		file := filepath.Join(t.TempDir(), "dump.json")
		os.WriteFile(file, []byte(c.dump), 0o644)
		out, errs, code := powchain(t, "", "import", "--data", data, "--difficulty", "2", file)
		if code != c.code {
			t.Errorf("%s: exit %d (%q %q), want %d", c.name, code, out, errs, c.code)
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the failed import left %s behind (%v)", c.name, data, err)
		}
	}
}

// TestVerifyReportsOnce: a bad block is reported once, as its index, hash
// and rule, with a short excerpt even when the block is megabytes long.
func TestVerifyReportsOnce(t *testing.T) {
	for _, r := range testvectors.Rows(t, "chains.jsonl") {
		if string(r["valid"]) == "true" {
			continue
		}
		out, errs, code := powchain(t, testvectors.String(t, r["dump"]), "verify", "--difficulty", string(r["difficulty"]))
		if code != exitInvalid || strings.Count(out+errs, "breaks rule") != 1 || errs != "" ||
			!strings.Contains(out, "block "+string(r["bad_index"])+" ") || !strings.Contains(out, " hash ") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q; want the failure once", testvectors.String(t, r["name"]), code, out, errs)
		}
	}
	// A 4 MB transaction in a block whose previous_hash is wrong.
	big := strings.Repeat("x", 4<<20)
	dump := `[{"index": 0, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0, "hash": "` + genesisHash(t) + `"},` +
		`{"index": 1, "transactions": [{"content": "` + big + `"}], "timestamp": 0, "previous_hash": "nope", "nonce": 0, "hash": "00"}]`
	out, errs, code := powchain(t, dump, "verify")
	if code != exitInvalid || len(out)+len(errs) > 1000 || !strings.Contains(out, "block 1 ") ||
		!strings.Contains(out, "previous_hash") || !strings.Contains(out, "MiB in all") {
		t.Fatalf("verify of a 4 MB bad block: exit %d, %d bytes of output: %.600s %.200s", code, len(out)+len(errs), out, errs)
	}
}

// genesisHash is the hash of the reference genesis block, as powchain
// hash computes it.
func genesisHash(t *testing.T) string {
	out, errs, code := powchain(t, `{"index": 0, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0}`, "hash")
	if code != 0 {
		t.Fatalf("hash of genesis: %d %s", code, errs)
	}
	return strings.TrimSpace(out)
}

// TestBenchHashersOnce: every kernel is measured once, whatever names it
// goes by: shani4 is shani, and --hashers all lists each kernel once.
func TestBenchHashersOnce(t *testing.T) {
	all, err := parseHashers("all")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, h := range all {
		c := hasher.Canonical(h.Name())
		if other, ok := seen[c]; ok {
			t.Errorf("--hashers all runs kernel %s twice: as %s and %s", c, other, h.Name())
		}
		seen[c] = h.Name()
	}
	for _, h := range hasher.Available() {
		if _, ok := seen[hasher.Canonical(h.Name())]; !ok {
			t.Errorf("--hashers all leaves out %s", h.Name())
		}
	}
	if !slices.ContainsFunc(hasher.Available(), func(h hasher.Hasher) bool { return h.Name() == "shani4" }) {
		t.Skip("no SHA-NI here: no kernel with two names to check further")
	}
	if _, ok := seen["shani4"]; ok {
		t.Errorf("--hashers all measures shani4 apart from shani")
	}
	hs, err := parseHashers("shani4,std,shani")
	if err != nil || len(hs) != 2 || hs[0].Name() != "shani4" || hs[1].Name() != "std" {
		t.Errorf("--hashers shani4,std,shani: %v %v, want shani4 and std", hs, err)
	}
}

// TestBenchQuickPlanFirst: the plan and its duration come first; --quick
// sets a short run, and flags given with it win.
func TestBenchQuickPlanFirst(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "q.json")
	start := time.Now()
	out, errs, code := powchain(t, "", "bench", "--quick", "--hashers", "generic", "--workers", "1", "--openssl=false",
		"--blocks", "2", "--json", jsonPath)
	if code != 0 {
		t.Fatalf("bench --quick: exit %d\n%s\n%s", code, out, errs)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Logf("bench --quick took %v here (a shared machine?)", el)
	}
	first := strings.SplitN(errs, "\n", 2)[0]
	if !regexp.MustCompile(`^bench: \d+ cells \(.*\), about \d`).MatchString(first) {
		t.Errorf("stderr starts %q, want the plan and its estimated duration", first)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Header struct {
			Config struct {
				Difficulties []int   `json:"difficulties"`
				Blocks       int     `json:"blocks"`
				RateTime     float64 `json:"rate_time_s"`
				TimeLimit    float64 `json:"time_limit_s"`
			} `json:"config"`
		} `json:"header"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Header.Config
	if !slices.Equal(c.Difficulties, []int{1, 2, 3, 4}) || c.Blocks != 2 || c.RateTime != 0.5 || c.TimeLimit != 25 {
		t.Errorf("--quick --blocks 2 ran %+v, want difficulties 1-4, 2 blocks, 0.5 s rate time, 25 s limit", c)
	}
	// --from draws a saved run again without measuring.
	svgPath := filepath.Join(t.TempDir(), "again.svg")
	again, errs, code := powchain(t, "", "bench", "--from", jsonPath, "--svg", svgPath)
	if svg, err := os.ReadFile(svgPath); code != 0 || err != nil || !bytes.Contains(svg, []byte("@font-face")) ||
		strings.Contains(errs, "cells") || !strings.Contains(again, "generic") {
		t.Errorf("bench --from: exit %d %v, stderr %q", code, err, errs)
	}

	// The progress line counts cells done of all, with time elapsed and left.
	line := statusText(bench.Status{Phase: "solve", Step: 3, Steps: 10, Hasher: "shani", Workers: 1, Elapsed: 5 * time.Second, ETA: 7 * time.Second})
	for _, want := range []string{"2/10 cells done", "5s elapsed", "about 7s left"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress %q lacks %q", line, want)
		}
	}
}

// TestHelpExamplesRun runs every help example that needs nothing but the
// repository's own files (examples/...) and powchain itself, piped into
// powchain or not, and wants each to succeed: an example a person copies
// from the help must work. Examples naming files of their own (chain.json,
// ./node-a), other programs, or the long-running and networked commands
// (serve, worker, bench, loadgen) are left out.
func TestHelpExamplesRun(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	skipCmd := map[string]bool{"serve": true, "worker": true, "bench": true, "loadgen": true}
	ran := 0
	for name, c := range commands {
	examples:
		for _, ex := range c.examples {
			line, _, _ := strings.Cut(ex, "#")
			var stages [][]string
			for _, seg := range strings.Split(line, "|") {
				f := strings.Fields(seg)
				if len(f) < 2 || f[0] != "powchain" || skipCmd[f[1]] {
					continue examples
				}
				for _, a := range f[2:] {
					if !strings.HasPrefix(a, "-") && strings.ContainsAny(a, "./") {
						if _, err := os.Stat(a); err != nil {
							continue examples
						}
					}
				}
				stages = append(stages, f[1:])
			}
			in := ""
			for _, args := range stages {
				out, errs, code := powchain(t, in, args...)
				if code != 0 {
					t.Errorf("help %s example %q: powchain %s exits %d: %s", name, ex, strings.Join(args, " "), code, errs)
					continue examples
				}
				in = out
			}
			ran++
		}
	}
	if ran < 5 {
		t.Fatalf("ran %d examples; the filter leaves out too many", ran)
	}
}
