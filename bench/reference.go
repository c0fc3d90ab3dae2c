package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/powchain/powchain/engine"
)

// OpenSSLRef is the machine's SHA-256 speed on one core as OpenSSL
// measures it: `openssl speed -evp sha256 -bytes 16384 -seconds N`, long
// messages, so nearly all of it is compressions. OpenSSL uses the best
// instructions the CPU has (SHA-NI here), which makes it the reference
// for what one core can do.
type OpenSSLRef struct {
	Command            string  `json:"command"`
	Version            string  `json:"version"`
	BytesPerSec        float64 `json:"bytes_per_s"`
	CompressionsPerSec float64 `json:"compressions_per_s"` // bytes/s / 64
}

// MeasureOpenSSL runs openssl speed for the given whole number of seconds
// (at least 1). It fails when openssl is not on the PATH or its output
// has no result.
func MeasureOpenSSL(ctx context.Context, seconds int) (*OpenSSLRef, error) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		return nil, fmt.Errorf("bench: openssl: %w", err)
	}
	seconds = max(seconds, 1)
	args := []string{"speed", "-evp", "sha256", "-bytes", "16384", "-seconds", strconv.Itoa(seconds)}
	ref := &OpenSSLRef{Command: "openssl " + strings.Join(args, " ")}
	// -mr: machine-readable results, "+F:n:sha256:bytes-per-second".
	out, err := exec.CommandContext(ctx, bin, append(args, "-mr")...).Output()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", ref.Command, err)
	}
	if ref.BytesPerSec, err = parseOpenSSL(out); err != nil {
		return nil, err
	}
	ref.CompressionsPerSec = ref.BytesPerSec / 64
	if v, err := exec.CommandContext(ctx, bin, "version").Output(); err == nil {
		ref.Version = strings.TrimSpace(string(v))
	}
	return ref, nil
}

// parseOpenSSL returns the bytes per second of the sha256 result in the
// output of openssl speed -mr.
func parseOpenSSL(out []byte) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) >= 4 && f[0] == "+F" && strings.EqualFold(f[2], "sha256") {
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("bench: openssl speed: bad result line %q", sc.Text())
			}
			return v, nil
		}
	}
	return 0, errors.New("bench: openssl speed: no sha256 result in its output")
}

// PythonRef is the seed's own proof-of-work loop, run by python3 on a
// block of the workload: what powchain replaces.
type PythonRef struct {
	Txs          int     `json:"txs"`
	Version      string  `json:"version"`
	Hashes       uint64  `json:"hashes"`
	Seconds      float64 `json:"seconds"`
	HashesPerSec float64 `json:"hashes_per_s"`
	// Agrees reports that Python's hash of the block at nonce 0 is
	// powchain's: both hash the same bytes.
	Agrees bool `json:"agrees"`
}

// pythonLoop is the seed's Block.compute_hash and proof_of_work loop, with
// a difficulty no hash meets and a look at the clock every 1024 nonces. It
// reads the block's fields as JSON on stdin and the seconds to run as its
// argument, and prints its count as JSON.
const pythonLoop = `
import json, sys, time
from hashlib import sha256

class Block:
    def __init__(self, index, transactions, timestamp, previous_hash, nonce=0):
        self.index = index
        self.transactions = transactions
        self.timestamp = timestamp
        self.previous_hash = previous_hash
        self.nonce = nonce

    def compute_hash(self):
        block_string = json.dumps(self.__dict__, sort_keys=True)
        return sha256(block_string.encode()).hexdigest()

f = json.loads(sys.stdin.read())
block = Block(f["index"], f["transactions"], f["timestamp"], f["previous_hash"])
difficulty = 64
start = time.perf_counter()
deadline = start + float(sys.argv[1])
block.nonce = 0
computed_hash = block.compute_hash()
first = computed_hash
hashes = 1
while not computed_hash.startswith('0' * difficulty):
    block.nonce += 1
    computed_hash = block.compute_hash()
    hashes += 1
    if hashes % 1024 == 0 and time.perf_counter() >= deadline:
        break
elapsed = time.perf_counter() - start
print(json.dumps({"hashes": hashes, "seconds": elapsed, "first": first,
                  "version": sys.version.split()[0]}))
`

// MeasurePython runs the seed's loop with python3 on b for about d and
// returns its rate. It fails when python3 is not on the PATH.
func MeasurePython(ctx context.Context, b *engine.Block, d time.Duration) (*PythonRef, error) {
	bin, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("bench: python baseline: %w", err)
	}
	in, err := b.MarshalWire()
	if err != nil {
		return nil, err
	}
	// The loop stops itself; the timeout only guards against a stuck one.
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-c", pythonLoop, strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return nil, fmt.Errorf("bench: python baseline: %w", err)
	}
	var res struct {
		Hashes  uint64  `json:"hashes"`
		Seconds float64 `json:"seconds"`
		First   string  `json:"first"`
		Version string  `json:"version"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Seconds <= 0 {
		return nil, fmt.Errorf("bench: python baseline: unexpected output %q", out)
	}
	b0 := *b
	b0.Nonce = 0
	return &PythonRef{
		Txs:          len(b.Transactions),
		Version:      "Python " + res.Version,
		Hashes:       res.Hashes,
		Seconds:      res.Seconds,
		HashesPerSec: float64(res.Hashes) / res.Seconds,
		Agrees:       res.First == b0.ComputeHash(),
	}, nil
}
