package node

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/supervisor"
)

// poolRuntime is a runtime on a fresh data dir that starts real
// bubblewrap sandboxes with roost-sandbox-init, built for the test.
func poolRuntime(t *testing.T, dataDir string) *runtime {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bubblewrap (bwrap) is missing: apt-get install bubblewrap")
		}
		t.Skip("bubblewrap (bwrap) is missing")
	}
	r, err := newRuntime(runtimeOptions{dataDir: dataDir, exe: initBinary(t), initExe: initBinary(t),
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		fetch: func(context.Context, string) (io.ReadCloser, error) {
			return nil, os.ErrNotExist
		},
		report: func(nodeapi.SandboxEvent) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var initBin string

// initBinary builds ./cmd/roost-sandbox-init once, where sandboxes' uids
// can read it.
func initBinary(t *testing.T) string {
	t.Helper()
	if initBin != "" {
		return initBin
	}
	dir, err := os.MkdirTemp("", "roost-init-*")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	_, file, _, _ := goruntime.Caller(0)
	p := filepath.Join(dir, "roost-sandbox-init")
	cmd := exec.Command("go", "build", "-o", p, "./cmd/roost-sandbox-init")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build roost-sandbox-init: %v\n%s", err, out)
	}
	initBin = p
	return p
}

func poolDataDir(t *testing.T) string {
	dir := t.TempDir()
	_ = os.Chmod(filepath.Dir(dir), 0o711)
	_ = os.Chmod(dir, 0o711)
	return dir
}

// waitPool waits until the pools are as want says (key → idle).
func waitPool(t *testing.T, r *runtime, want map[string]int) []nodeapi.PoolStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := r.poolStatus()
		got := map[string]int{}
		for _, p := range st {
			if p.Idle > 0 || p.Size > 0 {
				got[p.Key] = p.Idle
			}
		}
		same := len(got) == len(want)
		for k, n := range want {
			same = same && got[k] == n
		}
		if same {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pools are %+v, want idle %v", st, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memberPids are the live processes of the members under the data dir.
func memberPids(t *testing.T, r *runtime) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	entries, _ := os.ReadDir(r.poolDir())
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(r.poolDir(), e.Name(), "pid"))
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		out[e.Name()] = append(descendants(pid), pid)
	}
	return out
}

func alive(pids []int) []int {
	var out []int
	for _, p := range pids {
		if syscall.Kill(p, 0) == nil {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat"); !strings.Contains(string(b), ") Z ") {
				out = append(out, p)
			}
		}
	}
	return out
}

func waitGone(t *testing.T, what string, pids []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(alive(pids)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: processes %v are still running", what, alive(pids))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cgroupDirsOf lists the cgroup directories named id that exist.
func cgroupDirsOf(c *cgroups, id string) []string {
	var out []string
	for _, p := range c.v1 {
		if _, err := os.Stat(filepath.Join(p, id)); err == nil {
			out = append(out, filepath.Join(p, id))
		}
	}
	if c.v2 != "" {
		if _, err := os.Stat(filepath.Join(c.v2, id)); err == nil {
			out = append(out, filepath.Join(c.v2, id))
		}
	}
	return out
}

var (
	shapeA = nodeapi.PoolSpec{Template: "a", Isolation: "bubblewrap", Network: "none", MemoryMB: 256, CPUs: 1, Pids: 64, Size: 2}
	shapeB = nodeapi.PoolSpec{Template: "b", Isolation: "bubblewrap", Network: "none", MemoryMB: 512, CPUs: 1, Pids: 64, Size: 1}
)

func keyOf(p nodeapi.PoolSpec) string {
	return poolKey(p.Isolation, p.Network, p.MemoryMB, p.CPUs, p.Pids, p.TmpMB)
}

// TestPoolFillsClaimsAndRetires: a pool fills to its size; a start of its
// shape claims a member (no cold start), which is then a sandbox like any
// other and is never handed out again; the pool refills; a shape no
// longer asked for is retired, processes, cgroups and directories gone.
func TestPoolFillsClaimsAndRetires(t *testing.T) {
	r := poolRuntime(t, poolDataDir(t))
	defer r.close()
	if err := r.setPools(nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{shapeA}}); err != nil {
		t.Fatal(err)
	}
	waitPool(t, r, map[string]int{keyOf(shapeA): 2})
	members := memberPids(t, r)
	if len(members) != 2 {
		t.Fatalf("members on disk: %v, want 2", members)
	}

	spec := nodeapi.SandboxSpec{SandboxID: "sbx_pooltest1", InstanceID: "ins_1", Token: "tok", Isolation: "bubblewrap",
		Network: "none", MemoryMB: 256, CPUs: 1, Pids: 64}
	info, err := r.create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Warm {
		t.Fatalf("a start of the pool's shape was cold: %+v", info)
	}
	s, err := r.get(spec.SandboxID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := members[filepath.Base(cgroupName(s.dir, ""))]; !ok {
		t.Errorf("the sandbox's cgroup file names %q, not one of the members %v", cgroupName(s.dir, ""), members)
	}
	var res nodeapi.ExecResult
	req := nodeapi.ExecRequest{ExecID: "e1", Command: `echo "$ROOST_SANDBOX_ID $ROOST_INSTANCE_ID"; ls -A /workspace`, TimeoutMs: 10000}
	if err := s.postJSON(context.Background(), supervisor.ExecPath, req, &res); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(res.Stdout); got != "sbx_pooltest1 ins_1" {
		t.Errorf("the claimed sandbox says %q, want its own ids and an empty workspace", got)
	}

	// Another shape is cold, and so is the same id again.
	other := spec
	other.SandboxID, other.MemoryMB = "sbx_pooltest2", 300
	if info, err := r.create(context.Background(), other); err != nil || info.Warm {
		t.Fatalf("a start of another shape: %+v, %v; want a cold start", info, err)
	}

	// The claimed member is no longer a member; the pool refills to 2.
	waitPool(t, r, map[string]int{keyOf(shapeA): 2})
	now := memberPids(t, r)
	for id := range now {
		if _, ok := members[id]; ok {
			delete(members, id)
		}
	}
	if len(members) != 1 {
		t.Errorf("after one claim and a refill, %d of the first members are gone, want 1", len(members))
	}

	// A new shape retires the old one.
	old := memberPids(t, r)
	if err := r.setPools(nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{shapeB}}); err != nil {
		t.Fatal(err)
	}
	st := waitPool(t, r, map[string]int{keyOf(shapeB): 1})
	for id, pids := range old {
		waitGone(t, "retired member "+id, pids)
		if _, err := os.Stat(filepath.Join(r.poolDir(), id)); err == nil {
			t.Errorf("retired member %s left its directory", id)
		}
		if d := cgroupDirsOf(r.cg, id); len(d) > 0 {
			t.Errorf("retired member %s left cgroups %v", id, d)
		}
	}
	for _, p := range st {
		if p.Key == keyOf(shapeA) && p.Retired != 2 {
			t.Errorf("pool %s: retired %d, want 2", p.Key, p.Retired)
		}
	}
	// The claimed sandboxes were not touched.
	if _, err := r.get(spec.SandboxID); err != nil {
		t.Errorf("the claimed sandbox went with its old pool: %v", err)
	}
	for _, id := range []string{spec.SandboxID, other.SandboxID} {
		s, _ := r.get(id)
		if err := r.stop(context.Background(), s); err != nil {
			t.Error(err)
		}
	}
}

// TestPoolConfigRefused: sizes out of range and negative limits are
// refused with a sentence, and change nothing.
func TestPoolConfigRefused(t *testing.T) {
	r := &runtime{pool: newWarmPools()}
	for _, tc := range []struct {
		name string
		cfg  nodeapi.PoolConfig
		want string
	}{
		{"too big", nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{{Template: "x", Size: nodeapi.MaxPoolSize + 1}}}, "out of range"},
		{"negative", nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{{Template: "x", Size: -1}}}, "out of range"},
		{"negative limits", nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{{Template: "x", Size: 1, MemoryMB: -5}}}, "negative"},
		{"too many", nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{
			{Template: "a", Size: 64}, {Template: "b", Size: 64}, {Template: "c", Size: 64}, {Template: "d", Size: 64}, {Template: "e", Size: 1}}}, "at most"},
	} {
		err := r.setPools(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if len(r.pool.want) != 0 {
		t.Errorf("a refused config changed the pools: %v", r.pool.want)
	}
}

// TestPoolMembersOfADeadNodeGo: members a node left behind when it died
// (no close) are removed by the next start of the node.
func TestPoolMembersOfADeadNodeGo(t *testing.T) {
	dir := poolDataDir(t)
	r := poolRuntime(t, dir)
	if err := r.setPools(nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{shapeB}}); err != nil {
		t.Fatal(err)
	}
	waitPool(t, r, map[string]int{keyOf(shapeB): 1})
	left := memberPids(t, r)
	// The node dies: its pool loop stops, its members stay.
	close(r.pool.stop)
	<-r.pool.done

	r2 := poolRuntime(t, dir)
	defer r2.close()
	r2.restore(context.Background())
	for id, pids := range left {
		waitGone(t, "member "+id+" of the dead node", pids)
		if _, err := os.Stat(filepath.Join(r2.poolDir(), id)); err == nil {
			t.Errorf("member %s of the dead node left its directory", id)
		}
	}
}
