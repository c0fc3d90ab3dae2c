package testvectors

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCopyMatchesShared checks that the repository's copy of the vectors,
// testdata/vectors, is byte for byte the directory it was copied from,
// ../shared/vectors beside the repository root: the same files, the same
// bytes. A plain clone has no ../shared, and the test then says so and
// skips: the copy in the repository is what every other test reads.
func TestCopyMatchesShared(t *testing.T) {
	root := Root(t)
	shared := filepath.Join(root, "..", "shared", "vectors")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no ../shared/vectors beside the repository (%v): nothing to compare testdata/vectors with; the tests read the copy in the repository", err)
	}
	local := filepath.Join(root, "testdata", "vectors")
	want, got := names(t, shared), names(t, local)
	if !slices.Equal(want, got) {
		t.Fatalf("testdata/vectors holds %q, ../shared/vectors holds %q: copy the vectors again", got, want)
	}
	for _, n := range want {
		a, err := os.ReadFile(filepath.Join(shared, n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(local, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("testdata/vectors/%s differs from ../shared/vectors/%s (%d vs %d bytes): copy the vectors again", n, n, len(b), len(a))
		}
	}
}

// names lists the regular files of dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
			out = append(out, e.Name())
		}
	}
	return out
}
