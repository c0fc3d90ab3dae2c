//go:build !linux

package node

// pageDropper does nothing where madvise is not called (see
// dontneed_linux.go).
type pageDropper struct{}

func (*pageDropper) add([]byte) {}
func (*pageDropper) drop()      {}
