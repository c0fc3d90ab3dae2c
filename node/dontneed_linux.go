package node

import (
	"os"
	"syscall"
	"unsafe"
)

var pageSize = uintptr(os.Getpagesize())

// pageDropper tells the kernel that the mapped store pages a stream has
// read are not needed any more (madvise MADV_DONTNEED), every 16 MiB
// streamed. The store file is mapped shared and read-only, so this only
// unmaps the pages from the process: their data stays in the page cache,
// and a later read maps them again. Without it a GET /chain of the whole
// store would leave all of it counted in the node's RSS.
type pageDropper struct {
	lo, hi uintptr
	bytes  int
}

// add records that v, a value read from the mapping, was streamed.
func (d *pageDropper) add(v []byte) {
	if len(v) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
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
	d.bytes = 0
}
