package supervisor

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// A unix socket's address holds at most 107 bytes of path, and a data dir
// deep in the file tree makes a sandbox's socket path longer than that
// (bind then fails with EINVAL). Such a path is reached through
// /proc/self/fd and a descriptor of its directory, held open only while
// the socket is bound, so that no descriptor number outlives the directory
// it named. (The node dials through a descriptor of the socket itself.)

const maxSocketPath = 107

func viaDir(path string, fn func(p string) error) error {
	if len(path) <= maxSocketPath {
		return fn(path)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path)))
}

// ListenSocket binds a unix socket at path, however long the path.
func ListenSocket(path string) (net.Listener, error) {
	var ln net.Listener
	err := viaDir(path, func(p string) error {
		var err error
		ln, err = net.Listen("unix", p)
		if err == nil && p != path {
			// The name it was bound by stops meaning that directory once
			// the descriptor closes: closing must not unlink by it.
			ln.(*net.UnixListener).SetUnlinkOnClose(false)
		}
		return err
	})
	return ln, err
}
