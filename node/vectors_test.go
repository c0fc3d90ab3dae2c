package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/powchain/powchain/engine"
	"github.com/powchain/powchain/internal/testvectors"
)

// TestChainVectors imports every reference chain dump, directly and as a
// peer's answer to /register_node: a valid one is adopted, an invalid one
// is refused at its bad block and leaves the node as it was.
func TestChainVectors(t *testing.T) {
	for _, r := range testvectors.Rows(t, "chains.jsonl") {
		name := testvectors.String(t, r["name"])
		t.Run(name, func(t *testing.T) {
			var valid bool
			if err := json.Unmarshal(r["valid"], &valid); err != nil {
				t.Fatal(err)
			}
			text := testvectors.String(t, r["dump"])
			cfg := testConfig(t, "")
			if cfg.Target, _ = engine.Difficulty(int(testvectors.Int(t, r["difficulty"]))); cfg.Target.Bits() == 0 {
				t.Fatal("bad difficulty")
			}
			dump, err := engine.DecodeDump([]byte(text))
			if err != nil {
				t.Fatal(err)
			}

			// Import.
			n := openTest(t, cfg)
			res, err := n.Import(dump)
			if valid {
				if err != nil || !res.Replaced || n.Len() != len(dump.Blocks) || tip(n.Blocks()) != tip(dump.Blocks) {
					t.Fatalf("Import of a valid dump: %v, %+v, %d blocks", err, res, n.Len())
				}
			} else {
				bad := testvectors.Int(t, r["bad_index"])
				var re *engine.RuleError
				if !errors.As(err, &re) || re.Index != bad {
					t.Fatalf("Import of an invalid dump: %v, want a rule error at block %d", err, bad)
				}
				if n.Len() != 1 {
					t.Fatal("a refused import changed the chain")
				}
			}

			// As a peer's answer.
			peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(text))
			}))
			defer peer.Close()
			cfg.DataDir = t.TempDir()
			a := startNode(t, cfg, "")
			body := fmt.Sprintf(`{"node_address": %q}`, peer.URL)
			if valid {
				want(t, "POST", a.url+"register_with", body, 200, "Registration successful")
				if tip(a.Blocks()) != tip(dump.Blocks) {
					t.Fatal("the valid chain was not adopted")
				}
			} else {
				want(t, "POST", a.url+"register_with", body, 502, fmt.Sprintf("block %s breaks rule", r["bad_index"]))
				if a.Len() != 1 || len(a.Peers()) != 0 {
					t.Fatal("a refused chain changed the node")
				}
			}
		})
	}
}
