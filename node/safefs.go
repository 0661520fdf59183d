package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A sandbox owns its workspace and run directory, and can put symlinks,
// FIFOs or other sockets in them at any moment. The node runs as root, so
// every path it opens there is resolved beneath the directory by the kernel
// (openat2 with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS): a link planted by
// the sandbox fails the open instead of leading the node elsewhere.

var errNotRegular = errors.New("not a regular file")

const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openBeneath opens rel under root without following any symlink.
func openBeneath(root, rel string, flags int, mode uint32) (*os.File, error) {
	if rel == "" || strings.HasPrefix(rel, "/") {
		return nil, fmt.Errorf("path %q must be relative", rel)
	}
	dir, err := os.Open(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat2(int(dir.Fd()), rel, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: beneath})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(root, rel), Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

// openRegularBeneath opens a regular file under root for reading; a FIFO,
// device or socket put in its place is refused without blocking.
func openRegularBeneath(root, rel string) (*os.File, error) {
	f, err := openBeneath(root, rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, errNotRegular
	}
	return f, nil
}

// readRegularBeneath reads a whole regular file under root.
func readRegularBeneath(root, rel string) ([]byte, error) {
	f, err := openRegularBeneath(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, _ := f.Stat()
	b := make([]byte, 0, st.Size())
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil || n == 0 {
			return b, nil
		}
	}
}

// mkdirAllBeneath makes the directory rel under root, and any missing
// parent, owned by uid when run as root; none may be a symlink.
func mkdirAllBeneath(root, rel string, uid int) error {
	rel = filepath.Clean(rel)
	if rel == "." {
		return nil
	}
	if err := mkdirAllBeneath(root, filepath.Dir(rel), uid); err != nil {
		return err
	}
	parent, err := openBeneathDir(root, filepath.Dir(rel))
	if err != nil {
		return err
	}
	defer parent.Close()
	base := filepath.Base(rel)
	err = unix.Mkdirat(int(parent.Fd()), base, 0o755)
	if err == nil && os.Geteuid() == 0 {
		return unix.Fchownat(int(parent.Fd()), base, uid, uid, unix.AT_SYMLINK_NOFOLLOW)
	}
	if errors.Is(err, unix.EEXIST) {
		d, err := openBeneathDir(root, rel)
		if err != nil {
			return err
		}
		return d.Close()
	}
	return err
}

func openBeneathDir(root, rel string) (*os.File, error) {
	if rel == "." {
		return os.Open(root)
	}
	return openBeneath(root, rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
}

// dialBeneath connects to the unix socket rel under root, refusing a
// symlink in its place (which could lead the node to another sandbox's
// supervisor). It goes through /proc/self/fd, which also keeps the address
// short whatever the data dir's depth.
func dialBeneath(ctx context.Context, root, rel string) (net.Conn, error) {
	f, err := openBeneath(root, rel, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("%s is not a socket", f.Name())
	}
	var d net.Dialer
	return d.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
}
