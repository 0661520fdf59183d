package node

// seccompArch is AUDIT_ARCH_AARCH64, which has no second ABI.
const (
	seccompArch   = 0xc00000b7
	seccompX32Bit = 0
)

// archRefused are arm64's own system calls the filter refuses: none.
var archRefused = []uintptr{}
