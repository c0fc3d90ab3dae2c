//go:build !linux

package node

import bolt "go.etcd.io/bbolt"

// pageDropper does nothing where madvise is not called (see
// dontneed_linux.go).
type pageDropper struct{}

func newPageDropper(*bolt.DB, *bolt.Tx) *pageDropper { return &pageDropper{} }

func (*pageDropper) add([]byte) {}
func (*pageDropper) drop()      {}

func (s *store) dropMapped() {}
