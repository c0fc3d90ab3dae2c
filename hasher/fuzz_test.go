package hasher

import "testing"

// FuzzKernels compares every kernel this CPU and build runs with the
// generic reference on random templates: prefix and suffix of 0 to 2000
// bytes, 1 to 20 nonce digits, any start nonce and range of 1 to 300
// nonces, and targets of 0 to 8 bits so that solutions are frequent. Every
// solution in the range must match: the search restarts after each one.
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
	})
}
