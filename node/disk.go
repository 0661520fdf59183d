package node

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/roosthq/roost/node/nodeapi"
)

// A sandbox with a disk limit (the template's diskMb) keeps its workspace
// on a file system of its own: a sparse ext4 image beside the workspace,
// made at the first start and mounted (loop, nodev, nosuid) on it while the
// sandbox lives. A full workspace is ENOSPC inside; the node's disk holds at
// most the image. It needs a root node with mkfs.ext4 and loop devices;
// elsewhere the limit is not enforced, and the sandbox says so.

// imagePath is the workspace's image.
func (s *sbox) imagePath() string { return filepath.Join(s.dir, "workspace.img") }

// canLimitDisk tells whether this node can give a sandbox a disk limit.
func canLimitDisk() bool {
	if os.Geteuid() != 0 {
		return false
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		return false
	}
	_, err := os.Stat("/dev/loop-control")
	return err == nil
}

// mountWorkspace gives the workspace its file system of limitMB, making
// the image at its first start; it reports whether the limit holds.
func (s *sbox) mountWorkspace(limitMB int) (bool, error) {
	if limitMB <= 0 || !canLimitDisk() {
		return false, nil
	}
	if mounted(s.workspace()) {
		return true, nil
	}
	img := s.imagePath()
	if _, err := os.Stat(img); errors.Is(err, os.ErrNotExist) {
		if err := makeImage(img, limitMB, s.uid); err != nil {
			return false, err
		}
		_ = os.WriteFile(filepath.Join(s.dir, ".workspace-fresh"), nil, 0o600)
		// What a workspace held before it had a limit (a restart after
		// an upgrade) would be hidden under the mount: it must be empty.
		if entries, _ := os.ReadDir(s.workspace()); len(entries) > 0 {
			_ = os.Remove(img)
			return false, nil
		}
	}
	_, statErr := os.Stat(filepath.Join(s.dir, ".workspace-fresh"))
	if out, err := exec.Command("mount", "-o", "loop,nodev,nosuid", img, s.workspace()).CombinedOutput(); err != nil {
		return false, fmt.Errorf("mount the workspace image: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if statErr == nil {
		// A new file system's lost+found is mkfs's, not the sandbox's.
		_ = os.Remove(filepath.Join(s.workspace(), "lost+found"))
		_ = os.Remove(filepath.Join(s.dir, ".workspace-fresh"))
	}
	return true, nil
}

func makeImage(img string, limitMB, uid int) error {
	f, err := os.OpenFile(img, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(limitMB) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(img)
		return err
	}
	// No reserved blocks, and the root directory the sandbox's own.
	out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", "-E", fmt.Sprintf("root_owner=%d:%d,lazy_itable_init=1", uid, uid), img).CombinedOutput()
	if err != nil {
		os.Remove(img)
		return fmt.Errorf("mkfs.ext4: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// unmountWorkspace takes the workspace's file system away (the image stays).
func (s *sbox) unmountWorkspace() {
	for mounted(s.workspace()) {
		if err := syscall.Unmount(s.workspace(), 0); err != nil {
			_ = syscall.Unmount(s.workspace(), syscall.MNT_DETACH)
			return
		}
	}
}

// mounted reports whether dir is a mount point.
func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMount(fields[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// diskUse is what a limited workspace holds and may hold, in MiB.
func (s *sbox) diskUse() (usedMB, limitMB int64, ok bool) {
	if !s.limits.Disk {
		return 0, 0, false
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.workspace(), &st); err != nil {
		return 0, 0, false
	}
	total := int64(st.Blocks) * st.Bsize
	free := int64(st.Bavail) * st.Bsize
	return (total - free) >> 20, total >> 20, true
}

// disks lists the limited workspaces' use.
func (r *runtime) disks() []nodeapi.SandboxDisk {
	var out []nodeapi.SandboxDisk
	for _, id := range r.ids() {
		s, err := r.get(id)
		if err != nil {
			continue
		}
		if used, limit, ok := s.diskUse(); ok {
			out = append(out, nodeapi.SandboxDisk{SandboxID: id, UsedMB: used, LimitMB: limit})
		}
	}
	return out
}

// diskFull reports whether a limited workspace has no room left.
func (s *sbox) diskFull() bool {
	if !s.limits.Disk {
		return false
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.workspace(), &st); err != nil {
		return false
	}
	return int64(st.Bavail)*st.Bsize < 1<<20
}
