package node

import (
	"os"
	"syscall"
	"unsafe"

	bolt "go.etcd.io/bbolt"
)

var pageSize = uintptr(os.Getpagesize())

// pageDropper tells the kernel that the mapped store pages a stream has
// read are not needed any more (madvise MADV_DONTNEED), every 16 MiB
// streamed. The store file is mapped shared and read-only, so this only
// unmaps the pages from the process: their data stays in the page cache,
// and a later read maps them again. Without it a GET /chain of the whole
// store would leave all of it counted in the node's RSS.
//
// Only values inside the mapping count: bbolt hands out some values from
// the heap (those of small, inline buckets are copied when unaligned), and
// advising heap memory away would zero it.
type pageDropper struct {
	base, end uintptr // the mapped pages of the transaction
	lo, hi    uintptr
	bytes     int
}

// newPageDropper returns a dropper for values read in tx.
func newPageDropper(db *bolt.DB, tx *bolt.Tx) *pageDropper {
	base := db.Info().Data
	return &pageDropper{base: base, end: base + uintptr(tx.Size())}
}

// add records that v, a value read in the transaction, was streamed.
func (d *pageDropper) add(v []byte) {
	if len(v) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	if p < d.base || p+uintptr(len(v)) > d.end {
		return // not in the mapping
	}
	if d.bytes == 0 || p < d.lo {
		d.lo = p
	}
	if e := p + uintptr(len(v)); e > d.hi {
		d.hi = e
	}
	if d.bytes += len(v); d.bytes >= 16<<20 {
		d.drop()
	}
}

// drop advises the range seen since the last drop away.
func (d *pageDropper) drop() {
	if d.bytes == 0 {
		return
	}
	lo := d.lo &^ (pageSize - 1)
	hi := (d.hi + pageSize - 1) &^ (pageSize - 1)
	syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, syscall.MADV_DONTNEED)
	d.bytes, d.lo, d.hi = 0, 0, 0
}

// dropMapped advises every mapped page of the store away. Writes go to
// the file (pwrite) but bbolt reads the pages it changes through the
// mapping, and a mapping that is never replaced (see mmapSize) would keep
// them all in the node's RSS; the store calls this after every
// dropEvery bytes written.
func (s *store) dropMapped() {
	s.db.View(func(tx *bolt.Tx) error {
		base := s.db.Info().Data
		size := (uintptr(tx.Size()) + pageSize - 1) &^ (pageSize - 1)
		syscall.Syscall(syscall.SYS_MADVISE, base, size, syscall.MADV_DONTNEED)
		return nil
	})
}
