package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/roosthq/roost/node/supervisor"
)

// cmdSandboxInit is the supervisor, PID 1 of a sandbox. The node starts it;
// people do not.
func cmdSandboxInit(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: roost sandbox-init SPEC.json (started by the node)")
	}
	return supervisor.Run(args[0])
}

// cmdSandboxEnter joins cgroups, drops to an unprivileged uid, and execs
// the rest of its arguments, so that a sandbox is limited and unprivileged
// from its very first instruction.
func cmdSandboxEnter(args []string) error {
	uid := -1
	var procs []string
	i := 0
	for ; i < len(args); i++ {
		switch args[i] {
		case "--cgroup-procs":
			i++
			if i >= len(args) {
				return errors.New("--cgroup-procs needs a file")
			}
			procs = append(procs, args[i])
		case "--uid":
			i++
			if i >= len(args) {
				return errors.New("--uid needs a number")
			}
			v, err := strconv.Atoi(args[i])
			if err != nil || v <= 0 {
				return fmt.Errorf("--uid %q: must be a positive number", args[i])
			}
			uid = v
		case "--":
			i++
			goto run
		default:
			return fmt.Errorf("sandbox-enter: unknown argument %q", args[i])
		}
	}
run:
	rest := args[i:]
	if len(rest) == 0 {
		return errors.New("usage: roost sandbox-enter [--cgroup-procs F]... [--uid N] -- COMMAND...")
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, f := range procs {
		if err := os.WriteFile(f, pid, 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", f, err)
		}
	}
	if uid > 0 {
		if err := syscall.Setgroups([]int{}); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(uid, uid, uid); err != nil {
			return fmt.Errorf("setgid: %w", err)
		}
		if err := syscall.Setresuid(uid, uid, uid); err != nil {
			return fmt.Errorf("setuid: %w", err)
		}
	}
	path, err := exec.LookPath(rest[0])
	if err != nil {
		return err
	}
	return syscall.Exec(path, rest, os.Environ())
}
