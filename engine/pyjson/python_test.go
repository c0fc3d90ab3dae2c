package pyjson

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// pyCanon is what python3 prints for each base64 input line: "OK <base64 of
// json.dumps(json.loads(b), sort_keys=True)>", "ERR <exception>" or "REC"
// (RecursionError, which depends on CPython's stack and is not compared).
const pyCanon = `
import base64, json, sys
out = []
for line in sys.stdin.buffer:
    b = base64.b64decode(line.strip())
    try:
        r = json.dumps(json.loads(b), sort_keys=True)
        out.append("OK " + base64.b64encode(r.encode("ascii")).decode())
    except RecursionError:
        out.append("REC")
    except Exception as e:
        out.append("ERR " + type(e).__name__)
sys.stdout.write("\n".join(out) + "\n")
`

// runPython returns python3's answer for each input, or skips the test when
// no suitable python3 is available.
func runPython(t *testing.T, inputs [][]byte) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	ver, err := exec.Command(py, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Skipf("python3 does not run: %v", err)
	}
	if v := strings.TrimSpace(string(ver)); v != "3.11" {
		t.Logf("python3 is %s; the spec is CPython 3.11", v)
	}
	var in bytes.Buffer
	for _, b := range inputs {
		in.WriteString(base64.StdEncoding.EncodeToString(b))
		in.WriteByte('\n')
	}
	cmd := exec.Command(py, "-c", pyCanon)
	cmd.Stdin = &in
	cmd.Env = append(os.Environ(), "PYTHONINTMAXSTRDIGITS=4300")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("python3 answered %d lines for %d inputs", len(lines), len(inputs))
	}
	return lines
}

// compareWithPython checks Canonical against python's answers and returns
// the number of disagreements (after reporting the first few).
func compareWithPython(t *testing.T, inputs [][]byte, answers []string) (agreeOK, agreeErr, refused int) {
	t.Helper()
	bad := 0
	for i, in := range inputs {
		ans := answers[i]
		got, err := Canonical(in)
		var problem string
		switch {
		case ans == "REC":
			continue
		case strings.HasPrefix(ans, "OK "):
			want, _ := base64.StdEncoding.DecodeString(ans[3:])
			var se *SyntaxError
			switch {
			case err == nil && bytes.Equal(got, want):
				agreeOK++
			case err != nil && errors.As(err, &se) && strings.Contains(se.Msg, "is not UTF-8"):
				refused++ // UTF-16/32 input: refused on purpose
			case err != nil:
				problem = "python accepts it (" + trunc(string(want)) + "), Go: " + err.Error()
			default:
				problem = "\n got  " + trunc(string(got)) + "\n want " + trunc(string(want))
			}
		default:
			if err == nil {
				problem = "python: " + ans + ", Go accepts it: " + trunc(string(got))
			} else {
				agreeErr++
			}
		}
		if problem != "" {
			bad++
			if bad <= 20 {
				t.Errorf("input %s: %s", trunc(strconv.Quote(string(in))), problem)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d inputs disagree with python3", bad, len(inputs))
	}
	return
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// TestPythonDifferential runs random texts (and the quirk table) through both
// CPython and this package. It is skipped without python3.
func TestPythonDifferential(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	if s := os.Getenv("PYJSON_DIFF_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	seed := uint64(1)
	if s := os.Getenv("PYJSON_DIFF_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	g := &textGen{r: rand.New(rand.NewPCG(seed, 42))}
	var inputs [][]byte
	for _, q := range quirks {
		if !q.goOnly {
			inputs = append(inputs, []byte(q.in))
		}
	}
	for i := 0; i < n; i++ {
		inputs = append(inputs, g.text())
	}
	answers := runPython(t, inputs)
	// The quirk table's own claims must hold in CPython.
	qi := 0
	for _, q := range quirks {
		if q.goOnly {
			continue
		}
		ans := answers[qi]
		qi++
		if q.err != "" {
			if !strings.HasPrefix(ans, "ERR") {
				t.Errorf("quirk %q: table says error, python3 says %s", q.name, trunc(ans))
			}
			continue
		}
		want := "OK " + base64.StdEncoding.EncodeToString([]byte(q.want))
		if ans != want {
			t.Errorf("quirk %q: table says %s, python3 says %s", q.name, trunc(q.want), trunc(ans))
		}
	}
	ok, errs, refused := compareWithPython(t, inputs, answers)
	t.Logf("seed %d: %d inputs, both accept %d, both reject %d, refused non-UTF-8 %d", seed, len(inputs), ok, errs, refused)
}

// TestPythonFloats compares float parsing and repr with CPython on random
// doubles and on decimal texts at or next to the midpoint between two
// neighbouring doubles, where rounding is hardest. Skipped without python3.
func TestPythonFloats(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	r := rand.New(rand.NewPCG(11, 13))
	var inputs [][]byte
	for i := 0; i < n; i++ {
		var f float64
		switch r.IntN(3) {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			f = math.Float64frombits(r.Uint64() >> 12) // subnormals and tiny
		default:
			f = math.Ldexp(1, r.IntN(2098)-1074) // powers of two: uneven gaps
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || f == math.MaxFloat64 {
			continue
		}
		inputs = append(inputs, strconv.AppendFloat([]byte("["), f, 'e', -1, 64))
		inputs[len(inputs)-1] = append(inputs[len(inputs)-1], ']')
		// The exact midpoint between f and the next double up, then nudged.
		next := math.Nextafter(f, math.Inf(1))
		mid := new(big.Float).SetPrec(4000).SetFloat64(f)
		mid.Add(mid, new(big.Float).SetPrec(4000).SetFloat64(next))
		mid.Quo(mid, big.NewFloat(2))
		text := mid.Text('e', 1100)
		mant, exp, _ := strings.Cut(text, "e")
		mant = strings.TrimRight(mant, "0")
		for _, m := range []string{mant, mant + "0000000001", lowerLast(mant),
			mant + strings.Repeat("0", 900) + "1", lowerLast(mant) + strings.Repeat("9", 900)} {
			inputs = append(inputs, []byte(m+"e"+exp))
		}
	}
	answers := runPython(t, inputs)
	ok, errs, _ := compareWithPython(t, inputs, answers)
	t.Logf("%d float texts, %d agree, %d both rejected", len(inputs), ok, errs)
}

// lowerLast decreases the last nonzero digit of a mantissa by one.
func lowerLast(m string) string {
	b := []byte(m)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] >= '1' && b[i] <= '9' {
			b[i]--
			return string(b)
		}
	}
	return m
}
