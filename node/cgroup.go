package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/roosthq/roost/node/nodeapi"
)

// cgroups places sandboxes in cgroups for limits and freezing: cgroup v1
// (one hierarchy per controller) or v2 (one unified hierarchy), whichever
// the machine offers writable. Without either, limits are not enforced and
// pause falls back to signals; a sandbox says which.
type cgroups struct {
	v1   map[string]string // controller → directory of roost's parent group
	v2   string            // roost's parent group in the unified hierarchy
	root string
}

const cgroupParent = "roost"

func detectCgroups(root string) *cgroups {
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	c := &cgroups{v1: map[string]string{}, root: root}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		dir := filepath.Join(root, cgroupParent)
		if os.MkdirAll(dir, 0o755) == nil {
			ctrls, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
			var enable []string
			for _, ctl := range strings.Fields(string(ctrls)) {
				if ctl == "memory" || ctl == "pids" || ctl == "cpu" {
					enable = append(enable, "+"+ctl)
				}
			}
			_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0)
			_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0)
			c.v2 = dir
		}
		return c
	}
	for _, ctl := range []string{"memory", "pids", "cpu", "freezer"} {
		dir := filepath.Join(root, ctl, cgroupParent)
		if os.MkdirAll(dir, 0o755) == nil {
			c.v1[ctl] = dir
		}
	}
	return c
}

// sandboxCgroup is one sandbox's groups.
type sandboxCgroup struct {
	c    *cgroups
	id   string
	dirs map[string]string // controller (or "unified") → directory
	// supMem (cgroup v1) is the supervisor's memory group, beside the
	// sandbox's own and outside its limit: when the sandbox runs out of
	// memory the kernel kills within the sandbox's group, never the
	// supervisor. The supervisor moves what it starts into the sandbox's
	// group (workProcs, which it sees at WorkProcsInside).
	supMem string
}

// supSuffix names a sandbox's supervisor memory group; supMemLimit bounds it.
const (
	supSuffix   = "-sup"
	supMemLimit = 256 << 20
)

// WorkProcsInside is where a sandbox sees the procs file of its memory
// group (cgroup v1).
const WorkProcsInside = "/roost/memory.procs"

// create makes the sandbox's groups and writes its limits; it reports
// which limits hold.
func (c *cgroups) create(id string, spec nodeapi.SandboxSpec) (*sandboxCgroup, nodeapi.Limits) {
	g := &sandboxCgroup{c: c, id: id, dirs: map[string]string{}}
	lim := nodeapi.Limits{Freeze: "signals"}
	write := func(dir, file, v string) bool {
		return os.WriteFile(filepath.Join(dir, file), []byte(v), 0) == nil
	}
	if c.v2 != "" {
		dir := filepath.Join(c.v2, id)
		if os.MkdirAll(dir, 0o755) == nil {
			g.dirs["unified"] = dir
			lim.Memory = spec.MemoryMB <= 0 || write(dir, "memory.max", strconv.Itoa(spec.MemoryMB<<20))
			lim.Pids = spec.Pids <= 0 || write(dir, "pids.max", strconv.Itoa(spec.Pids))
			lim.CPU = spec.CPUs <= 0 || write(dir, "cpu.max", fmt.Sprintf("%d 100000", int(spec.CPUs*100000)))
			if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err == nil {
				lim.Freeze = "cgroup-v2"
			}
		}
		return g, lim
	}
	for ctl, parent := range c.v1 {
		dir := filepath.Join(parent, id)
		if os.MkdirAll(dir, 0o755) != nil {
			continue
		}
		g.dirs[ctl] = dir
		switch ctl {
		case "memory":
			lim.Memory = spec.MemoryMB <= 0 || write(dir, "memory.limit_in_bytes", strconv.Itoa(spec.MemoryMB<<20))
			if sup := dir + supSuffix; os.MkdirAll(sup, 0o755) == nil {
				g.supMem = sup
				write(sup, "memory.limit_in_bytes", strconv.Itoa(supMemLimit))
			}
		case "pids":
			lim.Pids = spec.Pids <= 0 || write(dir, "pids.max", strconv.Itoa(spec.Pids))
		case "cpu":
			// A new group's period is already 100 ms, and each write of
			// the period or quota costs the kernel about a millisecond.
			period, _ := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
			lim.CPU = spec.CPUs <= 0 || ((strings.TrimSpace(string(period)) == "100000" || write(dir, "cpu.cfs_period_us", "100000")) &&
				write(dir, "cpu.cfs_quota_us", strconv.Itoa(int(spec.CPUs*100000))))
		case "freezer":
			lim.Freeze = "cgroup-v1"
		}
	}
	return g, lim
}

// procsFiles are the files a process writes its pid to, to join the groups.
func (g *sandboxCgroup) procsFiles() []string {
	var out []string
	for ctl, d := range g.dirs {
		if ctl == "memory" && g.supMem != "" {
			d = g.supMem // the supervisor's, outside the sandbox's limit
		}
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

// workProcs is the procs file of the sandbox's memory group, which its
// supervisor writes what it starts into; "" without a group of its own.
func (g *sandboxCgroup) workProcs() string {
	if g.supMem == "" {
		return ""
	}
	return filepath.Join(g.dirs["memory"], "cgroup.procs")
}

// pids lists the processes in the sandbox's groups.
func (g *sandboxCgroup) pids() []int {
	seen := map[int]bool{}
	var out []int
	dirs := make([]string, 0, len(g.dirs)+1)
	for _, d := range g.dirs {
		dirs = append(dirs, d)
	}
	if g.supMem != "" {
		dirs = append(dirs, g.supMem)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

var errNoFreezer = errors.New("no cgroup freezer")

// freeze freezes (or thaws) the whole group and waits until it holds.
func (g *sandboxCgroup) freeze(frozen bool) error {
	if d, ok := g.dirs["freezer"]; ok {
		want := "THAWED"
		if frozen {
			want = "FROZEN"
		}
		if err := os.WriteFile(filepath.Join(d, "freezer.state"), []byte(want), 0); err != nil {
			return err
		}
		for i := 0; i < 500; i++ {
			b, _ := os.ReadFile(filepath.Join(d, "freezer.state"))
			if strings.TrimSpace(string(b)) == want {
				return nil
			}
			time.Sleep(time.Millisecond)
		}
		return fmt.Errorf("freezer did not reach %s", want)
	}
	if d, ok := g.dirs["unified"]; ok {
		if _, err := os.Stat(filepath.Join(d, "cgroup.freeze")); err == nil {
			v := "0"
			if frozen {
				v = "1"
			}
			if err := os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte(v), 0); err != nil {
				return err
			}
			for i := 0; i < 500; i++ {
				b, _ := os.ReadFile(filepath.Join(d, "cgroup.events"))
				if strings.Contains(string(b), "frozen "+v) {
					return nil
				}
				time.Sleep(time.Millisecond)
			}
			return errors.New("cgroup did not freeze")
		}
	}
	return errNoFreezer
}

// oomKills is how many processes the kernel killed in the sandbox's
// memory group for lack of memory, or -1 where it does not say.
func (g *sandboxCgroup) oomKills() int64 {
	for ctrl, d := range g.dirs {
		file := "memory.events" // v2
		if ctrl == "memory" {
			file = "memory.oom_control" // v1
		} else if ctrl != "" && ctrl != "unified" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, file))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// remove deletes the sandbox's groups (they must be empty).
func (g *sandboxCgroup) remove() {
	dirs := make([]string, 0, len(g.dirs)+1)
	for _, d := range g.dirs {
		dirs = append(dirs, d)
	}
	if g.supMem != "" {
		dirs = append(dirs, g.supMem)
	}
	for _, d := range dirs {
		for i := 0; i < 100; i++ {
			if err := os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
