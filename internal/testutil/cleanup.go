package testutil

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KillSandboxes ends every sandbox a test platform's nodes left behind
// under dataDir (they outlive their node on purpose, to be re-attached by
// a restarted node), and removes their cgroups.
func KillSandboxes(dataDir string) {
	abs, err := filepath.Abs(dataDir)
	if err != nil || abs == "/" {
		return
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmd), abs+"/") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	ids, _ := filepath.Glob(filepath.Join(abs, "*", "sandboxes", "*"))
	more, _ := filepath.Glob(filepath.Join(abs, "sandboxes", "*"))
	ids = append(ids, more...)
	for _, dir := range ids {
		id := filepath.Base(dir)
		groups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "roost", id))
		if g, err := os.Stat(filepath.Join("/sys/fs/cgroup", "roost", id)); err == nil && g.IsDir() {
			groups = append(groups, filepath.Join("/sys/fs/cgroup", "roost", id))
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
			for i := 0; i < 50 && os.Remove(g) != nil; i++ {
				if _, err := os.Stat(g); err != nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}
