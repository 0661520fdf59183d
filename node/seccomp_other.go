//go:build !amd64 && !arm64

package node

// Elsewhere sandboxes run without a seccomp filter.
const (
	seccompArch   = 0
	seccompX32Bit = 0
)

var archRefused = []uintptr{}
