package node

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/engine/pyjson"
)

// fuzzPost sends body to a node's handler as a client would and returns
// the status and answer.
func fuzzPost(h http.Handler, path string, body []byte) (int, string) {
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// FuzzNewTransaction sends arbitrary bodies to POST /new_transaction.
// Whatever it answers, it never fails (5xx), a refusal says why, and a
// transaction it accepts can be mined: it is pending, nested no deeper
// than MaxTxDepth, and a block holding it encodes and decodes.
func FuzzNewTransaction(f *testing.F) {
	for _, s := range []string{
		`{"author": "a", "content": "c"}`,
		`{"author": "a", "content": "c", "tags": ["x", {"y": [1, 2.5, null]}]}`,
		`{"author": "a", "content": "c", "content": "d"}`,
		`{"author": "a", "content": "c", "x": [NaN, Infinity, -Infinity, 1e400]}`,
		"{\"author\": \"\xff\", \"content\": \"c\"}",
		`{"author": "\ud800", "content": "c"}`,
		nested(64), nested(65), `[` + strings.Repeat("0,", 100) + `0]`, `"x"`, ``, ` `,
	} {
		f.Add([]byte(s))
	}
	n := openTest(f, testConfig(f, ""))
	h := n.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := n.pool.len()
		code, msg := fuzzPost(h, "/new_transaction", body)
		switch code {
		case 201:
			if n.pool.len() != before+1 {
				t.Fatalf("201 but the pool went from %d to %d", before, n.pool.len())
			}
			v, err := pyjson.Decode(body)
			if err != nil {
				t.Fatalf("201 for a body that does not decode: %v", err)
			}
			if d := valueDepth(v, MaxTxDepth); d > MaxTxDepth {
				t.Fatalf("201 for a transaction %d levels deep", d)
			}
			if err := checkMinable(v); err != nil {
				t.Fatalf("201 for a transaction that cannot be mined: %v", err)
			}
		case 400, 413, 415, 503:
			if n.pool.len() != before {
				t.Fatalf("%d but the pool changed", code)
			}
			if !strings.HasPrefix(msg, "Invalid transaction data: ") && code != 503 {
				t.Fatalf("%d with %q", code, msg)
			}
		default:
			t.Fatalf("status %d: %q", code, msg)
		}
	})
}

// FuzzAddBlock sends arbitrary bodies to POST /add_block. It never fails
// (5xx); the chain stays valid and grows only on 201.
func FuzzAddBlock(f *testing.F) {
	g := engine.Genesis()
	tg := target2(f)
	b1 := mineOn(f, g, tg, tx("a", "1"))
	for _, s := range []string{
		wire(f, b1), wire(f, g), `{"index": 1}`, `[0, 0, 0]`, `{"index": 1, "transactions": [` + nested(70) + `]}`,
		`{"index": 1, "transactions": [], "timestamp": 1, "previous_hash": "0", "nonce": 0, "hash": "00"}`,
		strings.Replace(wire(f, b1), `"nonce": `, `"nonce": 1`, 1),
	} {
		f.Add([]byte(s))
	}
	n := openTest(f, testConfig(f, ""))
	h := n.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		before := n.Len()
		code, msg := fuzzPost(h, "/add_block", body)
		switch code {
		case 201:
			if n.Len() != before+1 {
				t.Fatalf("201 but the chain went from %d to %d blocks", before, n.Len())
			}
		case 200, 400, 409, 413, 415, 503:
			if n.Len() != before {
				t.Fatalf("%d but the chain changed", code)
			}
		default:
			t.Fatalf("status %d: %q", code, msg)
		}
		if err := engine.ValidateChain(n.Blocks(), tg); err != nil {
			t.Fatalf("the chain is invalid after %d: %v", code, err)
		}
	})
}
