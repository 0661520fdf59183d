package node

import "syscall"

const syscallNoFollow = syscall.O_NOFOLLOW
