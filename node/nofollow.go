package node

import "syscall"

const syscallNoFollow = syscall.O_NOFOLLOW

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
