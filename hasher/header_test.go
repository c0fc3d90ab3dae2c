package hasher

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// mainnetBlock is one line of testdata/mainnet-headers.txt.
type mainnetBlock struct {
	height int
	hash   string // reversed hex, as explorers print it
	header Header
}

func readMainnet(t testing.TB) []mainnetBlock {
	t.Helper()
	f, err := os.Open("testdata/mainnet-headers.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mainnetBlock
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fs := strings.Fields(text)
		if len(fs) != 3 {
			t.Fatalf("line %d: want height, hash and header, got %d fields", line, len(fs))
		}
		height, err := strconv.Atoi(fs[0])
		if err != nil {
			t.Fatalf("line %d: height: %v", line, err)
		}
		h, err := ParseHeader(fs[2])
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		out = append(out, mainnetBlock{height: height, hash: fs[1], header: h})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 5 {
		t.Fatalf("only %d blocks in testdata", len(out))
	}
	return out
}

// stdSha256d is the double SHA-256 with crypto/sha256, independent of the
// package's own code.
func stdSha256d(h *Header) [32]byte {
	a := sha256.Sum256(h[:])
	return sha256.Sum256(a[:])
}

// bigCompact decodes nBits with math/big, straight from the definition,
// to check CompactTarget against: nil for an invalid one.
func bigCompact(nBits uint32) *big.Int {
	size := nBits >> 24
	mant := big.NewInt(int64(nBits & 0x007fffff))
	if mant.Sign() != 0 && nBits&0x00800000 != 0 {
		return nil
	}
	if size <= 3 {
		mant.Rsh(mant, uint(8*(3-size)))
	} else {
		mant.Lsh(mant, uint(8*(size-3)))
	}
	if mant.Sign() == 0 || mant.BitLen() > 256 {
		return nil
	}
	return mant
}

// leNumber reads a digest as the little-endian number Bitcoin compares.
func leNumber(d *[32]byte) *big.Int {
	var be [32]byte
	for i := range d {
		be[i] = d[31-i]
	}
	return new(big.Int).SetBytes(be[:])
}

func TestMainnetHeaders(t *testing.T) {
	for _, b := range readMainnet(t) {
		d := Sha256d(&b.header)
		if got := ReverseHex(&d); got != b.hash {
			t.Errorf("block %d: sha256d = %s, want %s", b.height, got, b.hash)
		}
		if std := stdSha256d(&b.header); std != d {
			t.Errorf("block %d: Sha256d and crypto/sha256 disagree", b.height)
		}
		target, err := CompactTarget(b.header.Bits())
		if err != nil {
			t.Fatalf("block %d: %v", b.height, err)
		}
		if !target.Meets(&d) {
			t.Errorf("block %d: hash %s does not meet its nBits %08x", b.height, b.hash, b.header.Bits())
		}
		job := NewHeaderJob(&b.header)
		if job.Sum(b.header.Nonce()) != d {
			t.Errorf("block %d: HeaderJob.Sum disagrees with Sha256d", b.height)
		}
		nonce := uint64(b.header.Nonce())
		// Search to 10,000 past the real nonce, not to the end of the
		// nonce space: a kernel that misses it fails at once instead of
		// hashing 2^32 nonces into the test timeout.
		from := nonce - min(nonce, 10000)
		to := min(nonce+10000, HeaderNonces)
		for _, h := range HeaderKernels() {
			n, found, hashes := h.NewHeaderSearcher().SearchHeader(job, from, to, target)
			if !found || n != nonce {
				t.Errorf("block %d, %s: mined nonce %d (found %v), want %d", b.height, h.Name(), n, found, nonce)
			}
			if hashes < nonce-from+1 || hashes > nonce-from+uint64(h.Lanes()) {
				t.Errorf("block %d, %s: %d hashes for %d nonces", b.height, h.Name(), hashes, nonce-from+1)
			}
		}
	}
}

// HeaderNonces is the size of the nonce space, for the tests.
const HeaderNonces = 1 << 32

func TestCompactTarget(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []uint32{0x1d00ffff, 0x1b04864c, 0x17057e69, 0x207fffff, 0x01003456, 0x01123456,
		0x02008000, 0x05009234, 0x04923456, 0x00000000, 0x21010000, 0x22000001, 0x20ffffff, 0x03000000}
	for i := 0; i < 5000; i++ {
		cases = append(cases, rng.Uint32()&0x22ffffff)
	}
	for _, c := range cases {
		want := bigCompact(c)
		got, err := CompactTarget(c)
		if want == nil {
			if err == nil {
				t.Fatalf("%08x: accepted, want an error", c)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%08x: %v", c, err)
		}
		if g, ok := new(big.Int).SetString(got.Hex(), 16); !ok || g.Cmp(want) != 0 {
			t.Fatalf("%08x: target %s, want %x", c, got.Hex(), want)
		}
		back, err := ParseHeaderTarget(got.Hex())
		if err != nil || back != got {
			t.Fatalf("%08x: ParseHeaderTarget(Hex()) = %v, %v", c, back.Hex(), err)
		}
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("1", 65)} {
		if _, err := ParseHeaderTarget(bad); err == nil {
			t.Errorf("ParseHeaderTarget(%q) accepted", bad)
		}
	}
}

func TestHeaderTargetMeets(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 20000; i++ {
		var d, tb [32]byte
		for j := range d {
			d[j], tb[j] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		// Make the two share a random number of top bytes, so that every
		// limb gets to decide.
		for j := 31; j >= 32-rng.IntN(33); j-- {
			tb[j] = d[j]
		}
		var target HeaderTarget
		for k := range target.limb {
			target.limb[k] = binary.LittleEndian.Uint32(tb[4*k:])
		}
		want := leNumber(&d).Cmp(leNumber(&tb)) <= 0
		if got := target.Meets(&d); got != want {
			t.Fatalf("hash %x target %x: Meets = %v, want %v", d, tb, got, want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	for _, bad := range []string{"", "00", strings.Repeat("0", 158), strings.Repeat("g", 160)} {
		if _, err := ParseHeader(bad); err == nil {
			t.Errorf("ParseHeader(%d chars) accepted", len(bad))
		}
	}
	h, err := ParseHeader(" " + strings.Repeat("ab", 80) + "\n")
	if err != nil || h[79] != 0xab || h.String() != strings.Repeat("ab", 80) {
		t.Fatalf("ParseHeader: %v", err)
	}
}

// randTarget returns a target whose top word is random, so that a fair
// share of hashes become candidates and some meet it, and whose lower
// limbs decide for the candidates whose top words equal it.
func randTarget(rng *rand.Rand) HeaderTarget {
	var t HeaderTarget
	for k := range t.limb {
		t.limb[k] = rng.Uint32()
	}
	t.limb[7] >>= rng.IntN(33) % 32
	return t
}

// headerSolutions returns every nonce in [lo, hi) whose sha256d meets
// target, with crypto/sha256.
func headerSolutions(h Header, lo, hi uint64, target HeaderTarget) []uint64 {
	var out []uint64
	for n := lo; n < hi; n++ {
		h.SetNonce(uint32(n))
		d := stdSha256d(&h)
		if target.Meets(&d) {
			out = append(out, n)
		}
	}
	return out
}

// headerSearchAll finds every solution in [lo, hi), restarting after each.
func headerSearchAll(t *testing.T, s HeaderSearcher, j *HeaderJob, lo, hi uint64, target HeaderTarget) []uint64 {
	t.Helper()
	return everySolution(t, lo, hi, func(lo, hi uint64) (uint64, bool, uint64) {
		return s.SearchHeader(j, lo, hi, target)
	}, someHashes)
}

func randHeader(rng *rand.Rand) Header {
	var h Header
	for i := range h {
		h[i] = byte(rng.Uint32())
	}
	return h
}

func TestHeaderKernelsAgainstStdlib(t *testing.T) {
	for _, h := range HeaderKernels() {
		t.Run(h.Name(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(15, uint64(len(h.Name()))))
			s := h.NewHeaderSearcher()
			iters := 150
			if testing.Short() {
				iters = 30
			}
			for i := 0; i < iters; i++ {
				hdr := randHeader(rng)
				job := NewHeaderJob(&hdr)
				start := rng.Uint64N(HeaderNonces)
				if i%5 == 0 {
					start = HeaderNonces - 1 - rng.Uint64N(300) // the top of the space
				}
				count := min(uint64(1+rng.IntN(300)), HeaderNonces-start)
				target := randTarget(rng)
				want := headerSolutions(hdr, start, start+count, target)
				got := headerSearchAll(t, s, job, start, start+count, target)
				if !equal(got, want) {
					t.Fatalf("header %x [%d,+%d) target %s: got %v, want %v", hdr[:], start, count, target.Hex(), got, want)
				}
			}
		})
	}
}

func TestHeaderSearchAllocatesNothing(t *testing.T) {
	hdr := randHeader(rand.New(rand.NewPCG(17, 18)))
	job := NewHeaderJob(&hdr)
	var target HeaderTarget // zero: met by no hash in practice
	for _, h := range HeaderKernels() {
		s := h.NewHeaderSearcher()
		s.SearchHeader(job, 0, 1, target) // warm up
		allocs := testing.AllocsPerRun(20, func() {
			s.SearchHeader(job, 1000, 2000, target)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per header search, want 0", h.Name(), allocs)
		}
	}
}

func TestHeaderKernelsRegistered(t *testing.T) {
	names := map[string]bool{}
	for _, h := range HeaderKernels() {
		names[h.Name()] = true
	}
	for _, want := range []string{"generic", "std", "simd"} {
		if !names[want] {
			t.Errorf("kernel %s has no header mode", want)
		}
	}
	if HaveAsm && Features.SHANI && !names["shani"] {
		t.Error("shani has no header mode")
	}
	if HaveAsm && Features.AVX2 && !names["avx2"] {
		t.Error("avx2 has no header mode")
	}
	if HaveAsm && Features.AVX512 && !names["avx512"] {
		t.Error("avx512 has no header mode")
	}
	if HaveAsm && Features.ARMSHA {
		for _, name := range []string{"armsha2", "armsha2x1", "armsha2x2", "armsha2x4"} {
			if !names[name] {
				t.Errorf("%s has no header mode", name)
			}
		}
	}
}
