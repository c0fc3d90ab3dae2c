package bench

import (
	"bytes"
	"testing"

	"github.com/powchain/powchain/engine"
)

func TestBlockShape(t *testing.T) {
	// One transaction: 240 bytes with a 7-digit nonce, 4 compressions, as
	// hasher's kernel benchmark; each transaction more adds 75 bytes.
	for _, c := range []struct{ txs, bytes int }{{0, 167}, {1, 240}, {2, 315}, {10, 915}, {100, 7665}} {
		for seed := int64(0); seed < 3; seed++ {
			for salt := 0; salt < 4; salt++ {
				for i := 0; i < 8; i++ {
					b := Block(seed, c.txs, salt, i)
					b.Nonce = 1234567
					data, err := b.Canonical()
					if err != nil {
						t.Fatal(err)
					}
					if len(data) != c.bytes {
						t.Fatalf("txs=%d seed=%d salt=%d block %d: %d bytes, want %d:\n%s", c.txs, seed, salt, i, len(data), c.bytes, data)
					}
				}
			}
		}
	}
	tpl, err := Block(1, 1, 0, 0).Template()
	if err != nil {
		t.Fatal(err)
	}
	if l := tpl.Layout(7); l.MsgLen != 240 || l.Blocks != 4 {
		t.Fatalf("txs=1: %d bytes, %d compressions with 7 digits; want 240, 4", l.MsgLen, l.Blocks)
	}
}

func TestBlockDeterministic(t *testing.T) {
	enc := func(b *engine.Block) []byte {
		data, err := b.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a := enc(Block(7, 3, 2, 1))
	if !bytes.Equal(a, enc(Block(7, 3, 2, 1))) {
		t.Fatal("same arguments, different blocks")
	}
	seen := map[string]bool{string(a): true}
	for _, b := range []*engine.Block{Block(8, 3, 2, 1), Block(7, 3, 3, 1), Block(7, 3, 2, 2)} {
		if seen[string(enc(b))] {
			t.Fatalf("two argument sets gave the same block: %s", enc(b))
		}
		seen[string(enc(b))] = true
	}
	// The block is one the reference node accepts: it decodes back.
	b := Block(7, 3, 2, 1)
	wire, err := b.MarshalWire()
	if err != nil {
		t.Fatal(err)
	}
	back, err := engine.DecodeBlock(wire, engine.BlockOptions{})
	if err != nil || !bytes.Equal(enc(back), a) {
		t.Fatalf("round trip: %v\n%s\n%s", err, enc(back), a)
	}
}

func TestCompressions(t *testing.T) {
	tpl, err := Block(1, 1, 0, 0).Template()
	if err != nil {
		t.Fatal(err)
	}
	per := func(d int) float64 { return float64(tpl.Layout(d).Blocks) }
	cases := []struct {
		n    uint64
		want float64
	}{
		{0, 0},
		{1, per(1)},
		{10, 10 * per(1)},
		{11, 10*per(1) + per(2)},
		{1000, 10*per(1) + 90*per(2) + 900*per(3)},
	}
	for _, c := range cases {
		if got := Compressions(tpl, c.n); got != c.want {
			t.Errorf("Compressions(%d) = %g, want %g", c.n, got, c.want)
		}
	}
	// Long blocks: 100 transactions, 7665 bytes, 120 compressions.
	big, _ := Block(1, 100, 0, 0).Template()
	if got := Compressions(big, 2_000_000) / 2_000_000; got != 120 {
		t.Errorf("txs=100: %g compressions per hash, want 120", got)
	}
}
