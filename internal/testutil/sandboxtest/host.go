package sandboxtest

// Looking at sandboxes from the host.

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/roosthq/roost/internal/testutil"
)

// CgroupDirs are a sandbox's cgroup directories, v1 and v2.
func CgroupDirs(sandboxID string) []string {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "roost", sandboxID))
	// The supervisor's own memory group (cgroup v1).
	sup, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "roost", sandboxID+"-sup"))
	dirs = append(dirs, sup...)
	if d := filepath.Join("/sys/fs/cgroup", "roost", sandboxID); Exists(d) {
		dirs = append(dirs, d)
	}
	return dirs
}

// SandboxCgroupDirs are the cgroup directories of a sandbox of the node
// whose data dir is nodeDir: named by its id, or by the id it had as a
// warm pool member (its cgroup file), or a member's ("pool/wp-...").
func SandboxCgroupDirs(nodeDir, id string) []string {
	name := filepath.Base(id)
	if b, err := os.ReadFile(filepath.Join(nodeDir, "sandboxes", id, "cgroup")); err == nil && strings.TrimSpace(string(b)) != "" {
		name = strings.TrimSpace(string(b))
	}
	return CgroupDirs(name)
}

// Exists tells whether a path exists on the host.
func Exists(p string) bool { _, err := os.Stat(p); return err == nil }

// stat is the part of /proc/PID/stat after the command: fields from the
// third (state) on.
func stat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// descendants lists pid and every process below it.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := stat(p); len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	if pid <= 0 || !Exists("/proc/"+strconv.Itoa(pid)) {
		return nil
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// HostPids lists the host pids of a sandbox's processes: what its cgroups
// hold and what descends from the process the node started.
func HostPids(nodeDir, sandboxID string) []int {
	seen := map[int]bool{}
	for _, d := range SandboxCgroupDirs(nodeDir, sandboxID) {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				seen[p] = true
			}
		}
	}
	b, _ := os.ReadFile(filepath.Join(nodeDir, "sandboxes", sandboxID, "pid"))
	// A pid file outlives its process, and the pid may be another's by
	// now (another test's sandbox): it counts only while its process is
	// one this node started, which names the node's directory.
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && strings.Contains(Cmdline(pid), filepath.Join(nodeDir, "sandboxes")+"/") {
		for _, p := range descendants(pid) {
			seen[p] = true
		}
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		if Exists("/proc/" + strconv.Itoa(p)) {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// Cmdline is a process's arguments joined by spaces.
func Cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// Uids are the real, effective, saved and filesystem uids of a process.
func Uids(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			var out []int
			for _, f := range strings.Fields(rest) {
				v, _ := strconv.Atoi(f)
				out = append(out, v)
			}
			return out
		}
	}
	return nil
}

// FindProc finds the host pid of a sandbox's process whose arguments
// contain s.
func FindProc(nodeDir, sandboxID, s string) int {
	for _, p := range HostPids(nodeDir, sandboxID) {
		if strings.Contains(Cmdline(p), s) {
			return p
		}
	}
	return 0
}

// CPUTicks is a process's user plus system CPU time, in clock ticks.
func CPUTicks(pid int) int64 {
	f := stat(pid)
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// KillAll ends every process of every sandbox under a node's data dir
// and removes their cgroups. Only the sandboxes of that dir: other tests'
// sandboxes on this machine are left alone.
func KillAll(nodeDir string) {
	var ids []string
	entries, _ := os.ReadDir(filepath.Join(nodeDir, "sandboxes"))
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), "sbx_") {
			ids = append(ids, ent.Name())
		}
	}
	members, _ := os.ReadDir(filepath.Join(nodeDir, "sandboxes", "pool"))
	for _, ent := range members {
		ids = append(ids, "pool/"+ent.Name())
	}
	for _, id := range ids {
		dirs := SandboxCgroupDirs(nodeDir, id)
		KillOne(nodeDir, id)
		for _, d := range dirs {
			// A cgroup can be removed once the kernel has seen its last
			// process go. A cleanup, so a cgroup that stays is no failure.
			testutil.Until(testutil.Short, func() bool { return os.Remove(d) == nil || !Exists(d) })
		}
	}
}

// KillOne kills every process of one sandbox, leaving its directory.
func KillOne(nodeDir, id string) {
	for _, d := range SandboxCgroupDirs(nodeDir, id) {
		_ = os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0)
		_ = os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0)
	}
	// Kill until none is left: a process may fork while the others die.
	testutil.Until(testutil.Short, func() bool {
		pids := HostPids(nodeDir, id)
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGCONT)
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		return len(pids) == 0
	})
}
