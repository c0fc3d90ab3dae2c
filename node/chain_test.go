package node

import (
	"encoding/binary"
	"testing"
)

func hashOf(i int, salt byte) [32]byte {
	var h [32]byte
	binary.BigEndian.PutUint64(h[:], uint64(i))
	h[31] = salt
	return h
}

// TestHashIndexSnapshots checks that an index a reader holds keeps its
// hashes while the chain is appended to and cut back and appended to again,
// across chunk boundaries.
func TestHashIndexSnapshots(t *testing.T) {
	var x hashIndex
	n := indexChunk + indexChunk/2
	for i := range n {
		x = x.appended(hashOf(i, 0))
	}
	check := func(what string, idx hashIndex, length int, salt func(i int) byte) {
		t.Helper()
		if idx.len() != length {
			t.Fatalf("%s: length %d, want %d", what, idx.len(), length)
		}
		for i := range length {
			if idx.at(i) != hashOf(i, salt(i)) {
				t.Fatalf("%s: hash %d changed", what, i)
			}
		}
	}
	old := x
	longer := x.appended(hashOf(n, 0), hashOf(n+1, 0))
	check("after an append, the old index", old, n, func(int) byte { return 0 })
	check("the appended index", longer, n+2, func(int) byte { return 0 })

	fork := indexChunk + 10
	forked := longer.truncated(fork)
	for i := fork; i < n+indexChunk; i++ {
		forked = forked.appended(hashOf(i, 1))
	}
	check("after a fork, the old index", longer, n+2, func(int) byte { return 0 })
	check("the forked index", forked, n+indexChunk, func(i int) byte {
		if i >= fork {
			return 1
		}
		return 0
	})
	all := forked.all()
	if len(all) != forked.len() || all[fork] != hashOf(fork, 1) || all[fork-1] != hashOf(fork-1, 0) {
		t.Fatal("all does not list the index")
	}
	if cut := forked.truncated(2 * indexChunk); cut.len() != 2*indexChunk || len(cut.chunks) != 2 {
		t.Fatalf("cut at a chunk boundary: %d hashes in %d chunks", cut.len(), len(cut.chunks))
	}
}
