package hasher

// The arm64 assembly is generated on any host, so its go:generate line
// sits in a file every build reads (the amd64 kernels' lines sit in their
// _amd64.go files, which `go generate` reads on amd64 hosts, where CI and
// `make generate` run).
//
//go:generate sh -c "cd _asm && go run ./armsha2 -layout ../header_layout_arm64.go -out ../armsha2_arm64.s -stubs ../armsha2_stub_arm64.go"
