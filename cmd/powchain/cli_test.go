package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/internal/testvectors"
)

// powchain runs the CLI in-process with stdin and returns stdout, stderr
// and the exit code.
func powchain(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func TestHashVectors(t *testing.T) {
	for _, r := range testvectors.Rows(t, "blocks.jsonl") {
		want := testvectors.String(t, r["hash"]) + "\n"
		// From the wire form (with a hash key, ignored) on stdin...
		out, errs, code := powchain(t, testvectors.String(t, r["wire"]), "hash")
		if code != 0 || out != want {
			t.Fatalf("hash (stdin): exit %d out %q err %q, want %q", code, out, errs, want)
		}
		// ...and from the fields in a file.
		f := filepath.Join(t.TempDir(), "b.json")
		if err := os.WriteFile(f, r["block"], 0o644); err != nil {
			t.Fatal(err)
		}
		if out, _, code := powchain(t, "", "hash", f); code != 0 || out != want {
			t.Fatalf("hash FILE: exit %d out %q, want %q", code, out, want)
		}
	}
}

func TestVerifyVectors(t *testing.T) {
	for _, r := range testvectors.Rows(t, "chains.jsonl") {
		var valid bool
		json.Unmarshal(r["valid"], &valid)
		diff := string(r["difficulty"])
		out, errs, code := powchain(t, testvectors.String(t, r["dump"]), "verify", "--difficulty", diff)
		name := testvectors.String(t, r["name"])
		if valid {
			if code != 0 || !strings.HasPrefix(out, "valid:") {
				t.Fatalf("%s: exit %d out %q err %q", name, code, out, errs)
			}
			continue
		}
		bad := string(r["bad_index"])
		if code != 1 || !strings.Contains(out, "block "+bad+" ") {
			t.Fatalf("%s: exit %d out %q, want exit 1 naming block %s", name, code, out, bad)
		}
	}
}

func TestMineVectors(t *testing.T) {
	rows := testvectors.Rows(t, "mining.jsonl")
	for _, r := range rows {
		if testing.Short() && testvectors.Int(t, r["nonce"]) > 50000 {
			continue
		}
		tpl, _ := json.Marshal(map[string]json.RawMessage{
			"index": r["index"], "transactions": r["transactions"], "timestamp": r["timestamp"],
			"previous_hash": r["previous_hash"], "nonce": json.RawMessage("999"),
		})
		out, errs, code := powchain(t, string(tpl), "mine", "--difficulty", string(r["difficulty"]), "--workers", "2")
		if code != 0 {
			t.Fatalf("mine: exit %d: %s", code, errs)
		}
		var got struct {
			Nonce int64  `json:"nonce"`
			Hash  string `json:"hash"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || !strings.HasSuffix(out, "}\n") || strings.Count(out, "\n") != 1 {
			t.Fatalf("mine output is not one line of JSON: %q (%v)", out, err)
		}
		if got.Nonce != testvectors.Int(t, r["nonce"]) || got.Hash != testvectors.String(t, r["hash"]) {
			t.Fatalf("%s: nonce %d hash %s", testvectors.String(t, r["name"]), got.Nonce, got.Hash)
		}
		// The mined block hashes to its own hash and verifies as a block.
		if h, _, _ := powchain(t, out, "hash"); h != got.Hash+"\n" {
			t.Fatalf("mined block hashes to %q, carries %q", h, got.Hash)
		}
	}
}

func TestBadInputExitsTwo(t *testing.T) {
	block := `{"index": 1, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0}`
	cases := []struct {
		stdin string
		args  []string
		want  string // a piece of the message
	}{
		{"", []string{"hash", "/nonexistent/file.json"}, "no such file"},
		{"{", []string{"hash"}, "offset 1"},
		{`{"index": "1", "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0}`, []string{"hash"}, `"index"`},
		{`{"index": 1, "timestamp": 0, "previous_hash": "0"}`, []string{"mine"}, `"transactions"`},
		{block, []string{"mine", "--difficulty", "-1"}, "difficulty"},
		{block, []string{"mine", "--difficulty", "65"}, "difficulty"},
		{block, []string{"mine", "--hasher", "nope"}, "unknown kernel"},
		{block, []string{"mine", "--workers", "0"}, "--workers"},
		{"[]", []string{"verify", "--difficulty", "-3"}, "difficulty"},
		{`{"chain": 5}`, []string{"verify"}, `"chain"`},
		{"", []string{"nosuchcommand"}, "unknown command"},
		{"", []string{"mine", "--nosuchflag"}, "nosuchflag"},
		{block, []string{"hash", "a", "b"}, "at most one"},
	}
	for _, c := range cases {
		out, errs, code := powchain(t, c.stdin, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 naming %q", c.args, code, errs, out, c.want)
		}
		if prefix := packagePrefix.FindString(errs); prefix != "" {
			t.Errorf("%v: stderr %q speaks of the code (%q)", c.args, errs, prefix)
		}
	}
}

func TestHelpAndCPU(t *testing.T) {
	if out, _, code := powchain(t, "", "help"); code != 0 || !strings.Contains(out, "Exit codes") {
		t.Fatalf("help: %d %q", code, out)
	}
	if out, _, code := powchain(t, "", "help", "mine"); code != 0 || !strings.Contains(out, "--workers") && !strings.Contains(out, "-workers") {
		t.Fatalf("help mine: %d %q", code, out)
	}
	if out, _, code := powchain(t, "", "cpu"); code != 0 || !strings.Contains(out, "auto:") {
		t.Fatalf("cpu: %d %q", code, out)
	}
	// --measure: every kernel here once (shani4 is shani), a rate each,
	// fastest first.
	out, _, code := powchain(t, "", "cpu", "--measure")
	_, table, ok := strings.Cut(out, "measured (")
	if code != 0 || !ok {
		t.Fatalf("cpu --measure: %d %q", code, out)
	}
	want := map[string]bool{}
	for _, h := range hasher.Available() {
		want[hasher.Canonical(h.Name())] = true
	}
	prev := math.Inf(1)
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		var name string
		var rate float64
		if _, err := fmt.Sscanf(line, "%s %g MH/s", &name, &rate); err != nil {
			t.Fatalf("cpu --measure line %q: %v", line, err)
		}
		if !want[name] || rate <= 0 || rate > prev {
			t.Errorf("cpu --measure line %q: unknown or repeated kernel, or not fastest first", line)
		}
		delete(want, name)
		prev = rate
	}
	if len(want) > 0 {
		t.Errorf("cpu --measure left out %v:\n%s", want, out)
	}
}

// TestAgainstPython checks the CLI on cases it has not seen: python3 (when
// present) makes random blocks and chains the way the reference node does,
// and the CLI must agree with it on hashes, mined nonces and verdicts.
func TestAgainstPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	cmd := exec.Command(py, "-c", pythonCases)
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var cases []struct {
		Block      json.RawMessage `json:"block"`
		Hash       string          `json:"hash"`
		Difficulty int             `json:"difficulty"`
		Nonce      int64           `json:"nonce"`
		Mined      string          `json:"mined"`
		Chain      string          `json:"chain"`
		Valid      bool            `json:"valid"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if out, errs, code := powchain(t, string(c.Block), "hash"); code != 0 || out != c.Hash+"\n" {
			t.Fatalf("case %d hash: %d %q %q, python says %s", i, code, out, errs, c.Hash)
		}
		out, errs, code := powchain(t, string(c.Block), "mine", "--difficulty", "3")
		if code != 0 || out != c.Mined+"\n" {
			t.Fatalf("case %d mine: %d %q %q\npython mined %s", i, code, out, errs, c.Mined)
		}
		_, _, code = powchain(t, c.Chain, "verify", "--difficulty", "3")
		if (code == 0) != c.Valid || (code != 0 && code != 1) {
			t.Fatalf("case %d verify: exit %d, python says valid=%v", i, code, c.Valid)
		}
	}
}

// pythonCases is the reference node's hashing and mining, in Python, over
// random blocks with awkward content (non-ASCII, astral, control
// characters, floats and big integers).
const pythonCases = `
import json, hashlib, random
random.seed(20261123)
def h(b):
    d = {k: b[k] for k in ("index", "transactions", "timestamp", "previous_hash", "nonce")}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
alphabet = "abcXYZ 019_-,.!?\"\\/\n\t\x01\x7f\u00e9\u03c0\u20ac\u6f22\U0001F600\u2028"
def s(n): return "".join(random.choice(alphabet) for _ in range(random.randint(0, n)))
def num():
    return random.choice([random.random() * 2e9, random.randint(-10**30, 10**30), 1e16, 1e-5, 0.1, random.randint(0, 2**31)])
def tx(): return {"author": s(10), "content": s(60), "timestamp": num(), s(4): num()}
def mine(b, d):
    b["nonce"] = 0
    while not h(b).startswith("0" * d):
        b["nonce"] += 1
    b["hash"] = h(b)
    return b
out = []
for i in range(12):
    blk = {"index": random.randint(0, 10**6), "transactions": [tx() for _ in range(random.randint(0, 4))],
           "timestamp": num(), "previous_hash": s(64), "nonce": random.randint(0, 10**9)}
    case = {"block": blk, "hash": h(blk), "difficulty": 3}
    m = dict(blk); del m["nonce"]
    m = mine(m, 3)
    case["mined"] = json.dumps(m, sort_keys=True)
    chain = [{"index": 0, "transactions": [], "timestamp": 0, "previous_hash": "0", "nonce": 0}]
    chain[0]["hash"] = h(chain[0])
    for j in range(3):
        b = {"index": j + 1, "transactions": [tx()], "timestamp": num(), "previous_hash": chain[-1]["hash"]}
        chain.append(mine(b, 3))
    valid = True
    if i % 3 == 1:
        chain[2]["transactions"][0]["content"] += "x"; valid = False
    elif i % 3 == 2:
        chain[3]["previous_hash"] = chain[1]["hash"]; valid = False
    case["chain"] = json.dumps({"length": len(chain), "chain": chain, "peers": []})
    case["valid"] = valid
    out.append(case)
print(json.dumps(out))
`
