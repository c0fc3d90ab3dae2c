module github.com/powchain/powchain

go 1.26.0

require (
	github.com/klauspost/cpuid/v2 v2.4.2
	github.com/minio/sha256-simd v1.0.1
)

require golang.org/x/sys v0.48.0 // indirect
