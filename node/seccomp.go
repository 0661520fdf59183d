package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// The sandbox's seccomp filter, which bubblewrap installs (--seccomp)
// before it runs the supervisor: the container runtimes' default in
// spirit. Refused with EPERM: new namespaces of any kind (unshare, clone
// and clone3 with CLONE_NEW* flags; `unshare -Ur` cannot make a root),
// joining one (setns), mounting, kernel keyrings, bpf, perf events,
// kexec and module loading, swap, reboot, the clock, accounting, quotas,
// the kernel log, io_uring, handle-based opens and userfaultfd; clone3,
// whose flags a filter cannot read, answers ENOSYS so that libc falls
// back to clone. System calls of another ABI (x32, or i386 on x86_64) are
// refused. Everything else is allowed.

// Classic BPF and seccomp return values.
const (
	bpfLdWAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K

	seccompRetAllow = 0x7fff0000
	seccompRetErrno = 0x00050000

	// Offsets in struct seccomp_data.
	offNr   = 0
	offArch = 4
	offArg0 = 16 // the low 32 bits on a little-endian machine

	// namespaceFlags are CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS,
	// CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET and
	// CLONE_NEWTIME.
	namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
		unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME
)

// refusedSyscalls are refused outright, on every architecture; each
// architecture's file adds its own (seccompArch, archRefused).
var refusedSyscalls = []uintptr{
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK, unix.SYS_MOUNT_SETATTR,
	unix.SYS_SETNS,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT, unix.SYS_ACCT, unix.SYS_QUOTACTL, unix.SYS_SYSLOG,
	unix.SYS_SETTIMEOFDAY, unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_ADJTIMEX,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_LOOKUP_DCOOKIE, unix.SYS_VHANGUP,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
}

// sockFilter is one instruction.
type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// seccompFilter builds the program; ok is false on an architecture it
// does not know, where sandboxes run without one.
func seccompFilter() (prog []sockFilter, ok bool) {
	if seccompArch == 0 {
		return nil, false
	}
	refused := append(append([]uintptr{}, refusedSyscalls...), archRefused...)
	// Layout: the checks, then three returns at the end. A jump's offset
	// counts the instructions it skips.
	var p []sockFilter
	ins := func(code uint16, k uint32) { p = append(p, sockFilter{code: code, k: k}) }
	// Labels, filled once the length is known.
	type jump struct {
		at     int
		target string
		onTrue bool
	}
	var jumps []jump
	jmp := func(code uint16, k uint32, target string, onTrue bool) {
		jumps = append(jumps, jump{at: len(p), target: target, onTrue: onTrue})
		ins(code, k)
	}
	ins(bpfLdWAbs, offArch)
	jmp(bpfJeqK, seccompArch, "eperm", false) // another ABI: refused
	ins(bpfLdWAbs, offNr)
	if seccompX32Bit != 0 {
		jmp(bpfJgeK, seccompX32Bit, "eperm", true)
	}
	for _, nr := range refused {
		jmp(bpfJeqK, uint32(nr), "eperm", true)
	}
	jmp(bpfJeqK, uint32(unix.SYS_CLONE3), "enosys", true)
	jmp(bpfJeqK, uint32(unix.SYS_UNSHARE), "flags", true)
	jmp(bpfJeqK, uint32(unix.SYS_CLONE), "flags", true)
	ins(bpfRetK, seccompRetAllow)
	labels := map[string]int{}
	labels["flags"] = len(p)
	ins(bpfLdWAbs, offArg0)
	jmp(bpfJsetK, namespaceFlags, "eperm", true)
	ins(bpfRetK, seccompRetAllow)
	labels["eperm"] = len(p)
	ins(bpfRetK, seccompRetErrno|uint32(syscall.EPERM))
	labels["enosys"] = len(p)
	ins(bpfRetK, seccompRetErrno|uint32(syscall.ENOSYS))
	for _, j := range jumps {
		off := labels[j.target] - j.at - 1
		if off < 0 || off > 255 {
			panic(fmt.Sprintf("seccomp: jump of %d instructions", off))
		}
		if j.onTrue {
			p[j.at].jt = uint8(off)
		} else {
			p[j.at].jf = uint8(off)
		}
	}
	return p, true
}

// seccompBytes is the program as bubblewrap reads it: struct sock_filter
// in the host's byte order.
func seccompBytes() ([]byte, bool) {
	p, ok := seccompFilter()
	if !ok {
		return nil, false
	}
	var b bytes.Buffer
	for _, f := range p {
		_ = binary.Write(&b, binary.NativeEndian, f.code)
		b.WriteByte(f.jt)
		b.WriteByte(f.jf)
		_ = binary.Write(&b, binary.NativeEndian, f.k)
	}
	return b.Bytes(), true
}
