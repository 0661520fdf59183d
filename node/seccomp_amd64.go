package node

import "golang.org/x/sys/unix"

// seccompArch is AUDIT_ARCH_X86_64; seccompX32Bit marks x32 system calls.
const (
	seccompArch   = 0xc000003e
	seccompX32Bit = 0x40000000
)

// archRefused are x86_64's own system calls the filter refuses.
var archRefused = []uintptr{
	unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_CREATE_MODULE, unix.SYS_GET_KERNEL_SYMS, unix.SYS_QUERY_MODULE,
	unix.SYS_USELIB, unix.SYS__SYSCTL, unix.SYS_NFSSERVCTL,
}
