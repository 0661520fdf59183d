package node

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KillAll ends every sandbox of the node whose data dir is dataDir (or of
// any node under it), and removes their cgroups. Sandboxes outlive their
// node on purpose, so a restarted node re-attaches to them; this is for
// taking a node down for good, and for tests.
func KillAll(dataDir string) {
	abs, err := filepath.Abs(dataDir)
	if err != nil || abs == "/" {
		return
	}
	var ids []string
	// Sandboxes and warm pool members, of this node or of nodes under it.
	for _, pattern := range []string{"sandboxes/*", "sandboxes/pool/*", "*/sandboxes/*", "*/sandboxes/pool/*"} {
		m, _ := filepath.Glob(filepath.Join(abs, pattern))
		ids = append(ids, m...)
	}
	for _, dir := range ids {
		if b, err := os.ReadFile(filepath.Join(dir, "pid")); err == nil {
			// The pid may be another process's by now: only one this node
			// started names the node's directory.
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && startedHere(pid, abs) {
				for _, p := range descendants(pid) {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
		id := cgroupName(dir, filepath.Base(dir))
		groups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupParent, id))
		sup, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupParent, id+supSuffix))
		groups = append(groups, sup...)
		if st, err := os.Stat(filepath.Join("/sys/fs/cgroup", cgroupParent, id)); err == nil && st.IsDir() {
			groups = append(groups, filepath.Join("/sys/fs/cgroup", cgroupParent, id))
		}
		for _, g := range groups {
			_ = os.WriteFile(filepath.Join(g, "freezer.state"), []byte("THAWED"), 0)
			if b, err := os.ReadFile(filepath.Join(g, "cgroup.procs")); err == nil {
				for _, f := range strings.Fields(string(b)) {
					if pid, err := strconv.Atoi(f); err == nil {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
		}
		for _, g := range groups {
			for i := 0; i < 100; i++ {
				if err := os.Remove(g); err == nil || os.IsNotExist(err) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}

// startedHere reports whether process pid is one a node under dataDir
// started: its arguments name a path under the data dir.
func startedHere(pid int, dataDir string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(b), dataDir+"/")
}
