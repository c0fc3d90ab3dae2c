package node

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/hasher"
	"github.com/powchain/powchain/internal/testvectors"
)

// wholeDump is what reading a dump whole says of it, as powchain verify
// did before it streamed: decoded with engine.DecodeDump, then validated.
func wholeDump(data []byte, tg hasher.Target) (blocks int, last string, invalid error, err error) {
	d, err := engine.DecodeDump(data)
	if err != nil {
		return 0, "", nil, err
	}
	if err := engine.ValidateChain(d.Blocks, tg); err != nil {
		return len(d.Blocks), "", err, nil
	}
	return len(d.Blocks), d.Blocks[len(d.Blocks)-1].Hash, nil, nil
}

// sameInvalid reports whether two validation failures name the same rule
// of the same block.
func sameInvalid(a, b error) bool {
	var ra, rb *engine.RuleError
	if errors.As(a, &ra) != errors.As(b, &rb) {
		return false
	}
	if ra != nil {
		return *ra == *rb
	}
	return errors.Is(a, b)
}

// checkScan compares ScanDump with reading the dump whole. A dump read
// whole is malformed exactly when ScanDump says so, except for a dump with
// "chain" or "peers" given twice: ScanDump checks the shape of the earlier
// value too, which json.loads drops unread.
func checkScan(t *testing.T, data []byte, tg hasher.Target) {
	t.Helper()
	s, err := ScanDump(context.Background(), bytes.NewReader(data), tg, nil)
	n, last, invalid, werr := wholeDump(data, tg)
	switch {
	case werr != nil && err == nil:
		t.Fatalf("%.200q: read whole it is malformed (%v), ScanDump took it: %+v", data, werr, s)
	case werr == nil && err != nil:
		if bytes.Count(data, []byte(`"chain"`)) < 2 && bytes.Count(data, []byte(`"peers"`)) < 2 {
			t.Fatalf("%.200q: read whole it is a dump of %d blocks, ScanDump refused it: %v", data, n, err)
		}
		return
	case err != nil:
		return
	}
	if s.Blocks != n || !sameInvalid(s.Invalid, invalid) {
		t.Fatalf("%.200q: ScanDump %d blocks, invalid %v; read whole %d blocks, invalid %v", data, s.Blocks, s.Invalid, n, invalid)
	}
	if invalid == nil && (s.Last == nil || s.Last.Hash != last) {
		t.Fatalf("%.200q: ScanDump's last block %v, want hash %s", data, s.Last, last)
	}
	var re *engine.RuleError
	if errors.As(invalid, &re) && (s.Bad == nil || s.Bad.Index != re.Index) {
		t.Fatalf("%.200q: ScanDump's bad block %v, want block %d", data, s.Bad, re.Index)
	}
	// Handing the blocks on: the valid ones, in order, or an error when
	// "chain" comes twice (blocks of the first were handed on already).
	var handed []*engine.Block
	s2, err := ScanDump(context.Background(), bytes.NewReader(data), tg, func(pos int, b *engine.Block) error {
		if pos != len(handed) {
			t.Fatalf("block handed on at position %d after %d blocks", pos, len(handed))
		}
		handed = append(handed, b)
		return nil
	})
	if err != nil {
		if !strings.Contains(err.Error(), `"chain": appears twice`) {
			t.Fatalf("%.200q: ScanDump with blocks handed on refused what it took without: %v", data, err)
		}
		return
	}
	want := n
	if re != nil {
		want = re.Position
	} else if invalid != nil {
		want = 0
	}
	if s2.Blocks != n || len(handed) != want {
		t.Fatalf("%.200q: ScanDump handed on %d blocks of %d, want %d of %d", data, len(handed), s2.Blocks, want, n)
	}
}

// FuzzScanDump: ScanDump, which reads a dump as a stream, says what
// reading it whole says: malformed or not, how many blocks, valid or which
// rule which block breaks.
func FuzzScanDump(f *testing.F) {
	tg := target2(f)
	g := engine.Genesis()
	b1 := mineOn(f, g, tg, tx("a", "1"))
	b2 := mineOn(f, b1, tg, tx("b", "2"))
	bad := strings.Replace(wire(f, b1), `"nonce": `, `"nonce": 1`, 1)
	arr := "[" + wire(f, g) + ", " + wire(f, b1) + ", " + wire(f, b2) + "]"
	for _, s := range []string{
		arr, `{"length": 3, "chain": ` + arr + `, "peers": ["http://a:1"]}`,
		`{"chain": ` + arr + `, "length": 3}`, `{"chain": ` + arr + `, "length": 2}`,
		`{"chain": ` + arr + `, "length": 3.0}`, `{"chain": ` + arr + `, "x": [1, {"y": NaN}], "length": 3}`,
		`{"chain": ` + arr + `, "x": [1, }`, `{"length": 9, "chain": ` + arr + `, "length": 3}`,
		`{"chain": [], "chain": ` + arr + `}`, `{"chain": ` + arr + `, "chain": []}`,
		"[" + wire(f, g) + ", " + bad + ", " + wire(f, b2) + "]",
		"[" + wire(f, g) + ", " + bad + ", " + wire(f, b2) + ", x]",
		"[" + wire(f, g) + ", " + bad + `, {"index": "2"}]`,
		"[" + wire(f, b1) + "]", "[" + wire(f, g) + ", " + wire(f, b2) + "]",
		arr + " x", arr + " \n", "\ufeff" + arr, arr[:len(arr)-3], `[]`, `{}`, `{"chain": []}`,
		`{"chain": 5}`, `5`, `"x"`, ``, ` `, `[` + wire(f, g) + `, 5]`, `{"chain": ` + arr + `, "peers": [1]}`,
		`{"chain": ` + arr + `, "x": ` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `}`,
		`{"chain": ` + arr + `, "x": ` + strings.Repeat("[", 998) + strings.Repeat("]", 998) + `}`,
		`{"chain": [` + wire(f, g) + `, ` + deep(997) + wire(f, b1)[1:] + `]}`, // 1000 levels in all
		`{"chain": [` + wire(f, g) + `, ` + deep(998) + wire(f, b1)[1:] + `]}`,
		`[` + wire(f, g) + `, ` + deep(998) + wire(f, b1)[1:] + `]`,
		`[` + wire(f, g) + `, ` + deep(999) + wire(f, b1)[1:] + `]`,
		`{"` + strings.Repeat("k", 300) + `": 1, "chain": ` + arr + `}`,
	} {
		f.Add([]byte(s))
	}
	for _, r := range testvectors.Rows(f, "chains.jsonl") {
		f.Add([]byte(testvectors.String(f, r["dump"])))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkScan(t, data, tg) })
}

// deep is the start of a block object whose first key, ignored, holds
// arrays nested n deep.
func deep(n int) string {
	return `{"x": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + `, `
}
