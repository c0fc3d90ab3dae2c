package hasher

import (
	"encoding/binary"
	"testing"
)

// FuzzKernels compares every kernel this CPU and build runs with the
// generic reference on random templates: prefix and suffix of 0 to 2000
// bytes, 1 to 20 nonce digits, any start nonce and range of 1 to 300
// nonces, and targets of 0 to 8 bits so that solutions are frequent. Every
// solution in the range must match: the search restarts after each one.
//
// The same inputs also drive the header mode: the header is the first 80
// bytes of prefix || suffix (zero-padded), the range starts at the low 32
// bits of start, and the target's top word is the all-ones word shifted
// right by 0 to 8 bits (bits), so candidates are frequent and the lower
// target words, taken from the header, decide some of them.
//
//	go test -run='^$' -fuzz=FuzzKernels -fuzztime=2m ./hasher/
func FuzzKernels(f *testing.F) {
	f.Add([]byte(`{"index": 1, "nonce": `), []byte(`, "previous_hash": "00"}`), uint8(7), uint64(0), uint16(100), uint8(4))
	f.Add([]byte{}, []byte{}, uint8(1), uint64(3), uint16(10), uint8(0))
	f.Add(make([]byte, 55), make([]byte, 70), uint8(19), uint64(1<<63), uint16(299), uint8(8))
	f.Add(make([]byte, 60), make([]byte, 1000), uint8(20), ^uint64(0), uint16(257), uint8(3))
	f.Add(make([]byte, 2000), make([]byte, 2000), uint8(12), uint64(999), uint16(37), uint8(5))
	f.Fuzz(func(t *testing.T, prefix, suffix []byte, digits uint8, start uint64, count uint16, bits uint8) {
		prefix = prefix[:min(len(prefix), 2000)]
		suffix = suffix[:min(len(suffix), 2000)]
		d := 1 + int(digits)%MaxDigits
		lo, hi := DigitRange(d)
		n := min(1+uint64(count)%300, hi-lo)
		from := lo + start%(hi-lo-n+1)
		target, _ := TargetBits(int(bits) % 9)
		l := NewTemplate(prefix, suffix).Layout(d)
		want := searchAll(t, genericHasher{}.NewSearcher(), l, from, from+n, target)
		for _, h := range Available() {
			if h.Name() == "generic" {
				continue
			}
			got := searchAll(t, h.NewSearcher(), l, from, from+n, target)
			if !equal(got, want) {
				t.Fatalf("%s: prefix %d suffix %d digits %d [%d,+%d) target %v: got %v, want %v",
					h.Name(), len(prefix), len(suffix), d, from, n, target, got, want)
			}
		}

		var hdr Header
		copy(hdr[:], append(append([]byte(nil), prefix...), suffix...))
		job := NewHeaderJob(&hdr)
		hlo := uint64(uint32(start))
		hn := min(1+uint64(count)%300, HeaderNonces-hlo)
		var ht HeaderTarget
		for k := range ht.limb {
			ht.limb[k] = binary.LittleEndian.Uint32(hdr[4*k:])
		}
		ht.limb[7] = ^uint32(0) >> (bits % 9)
		hwant := headerSolutions(hdr, hlo, hlo+hn, ht)
		for _, h := range HeaderKernels() {
			got := headerSearchAll(t, h.NewHeaderSearcher(), job, hlo, hlo+hn, ht)
			if !equal(got, hwant) {
				t.Fatalf("%s header mode: header %x [%d,+%d) target %s: got %v, want %v",
					h.Name(), hdr[:], hlo, hn, ht.Hex(), got, hwant)
			}
		}
	})
}
