package sandbox_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/platform"
)

// poolIdle is how many warm members the embedded node has free, and how
// many it handed out.
func poolIdle(e *sandboxtest.Env) (idle int, claimed int64) {
	for _, p := range e.Srv.LocalNode().Metrics().WarmPools {
		idle += p.Idle
		claimed += p.Claimed
	}
	return idle, claimed
}

func waitPoolIdle(t *testing.T, e *sandboxtest.Env, n int) {
	t.Helper()
	if !testutil.Until(testutil.Long, func() bool {
		idle, _ := poolIdle(e)
		return idle == n
	}) {
		t.Fatalf("the warm pool did not fill to %d: %+v", n, e.Srv.LocalNode().Metrics().WarmPools)
	}
}

// liveSandboxDir is the node's directory of the instance's live sandbox.
func liveSandboxDir(t *testing.T, i *sandboxtest.Inst) (id, dir string) {
	t.Helper()
	st := i.StatusNow()
	if st.Sandbox == nil {
		t.Fatalf("instance %s has no sandbox", i.ID)
	}
	entries, _ := os.ReadDir(filepath.Join(i.Env.NodeDir(), "sandboxes"))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(i.Env.NodeDir(), "sandboxes", e.Name(), "spec.json"))
		if err == nil && strings.Contains(string(b), `"instanceId":"`+i.ID+`"`) {
			return e.Name(), filepath.Join(i.Env.NodeDir(), "sandboxes", e.Name())
		}
	}
	t.Fatalf("no directory of instance %s's sandbox on the node", i.ID)
	return "", ""
}

// TestWarmPoolStart: with a warm pool, ensureSandbox claims a member: the
// agent of the instance's bundle runs in it, answers, and sees only its
// own identity and an empty workspace; what one user left behind never
// reaches the next; the pool refills.
func TestWarmPoolStart(t *testing.T) {
	e := startReady(t, platform.Config{WarmPool: 2})
	waitPoolIdle(t, e, 2)

	i := e.Instance("warm-one", "default", "echo")
	out := sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, struct{}{})
	if out.State != "running" {
		t.Fatalf("ensureSandbox answered %q, want running", out.State)
	}
	evs := i.Events("sandbox_running")
	if len(evs) == 0 || !strings.Contains(evs[len(evs)-1].Detail, "warm pool") {
		t.Fatalf("sandbox_running events %+v do not say the sandbox came from the warm pool", evs)
	}
	if i.StatusNow().Status != methods.InstanceReady {
		t.Fatalf("instance status %q after ensureSandbox, want ready (its agent answered)", i.StatusNow().Status)
	}
	idA, dirA := liveSandboxDir(t, i)
	if b, err := os.ReadFile(filepath.Join(dirA, "cgroup")); err != nil || !strings.HasPrefix(string(b), "wp-") {
		t.Errorf("the sandbox's cgroup file is %q (%v), want the member's name", b, err)
	}
	got := i.Sh(t, `ls -A /workspace; echo "--"; ls /agent; echo "$ROOST_SANDBOX_ID $ROOST_INSTANCE_ID"`)
	parts := strings.SplitN(got, "--\n", 2)
	if len(parts) != 2 || strings.TrimSpace(parts[0]) != "" {
		t.Fatalf("the claimed sandbox's workspace is not empty:\n%s", got)
	}
	if !strings.Contains(parts[1], "agent") || !strings.Contains(parts[1], idA+" "+i.ID) {
		t.Errorf("the claimed sandbox shows /agent and its identity as:\n%s\nwant the bundle's agent, %s and %s", parts[1], idA, i.ID)
	}
	sandboxtest.Must[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": out.SandboxID, "lines": 5})
	uidA := sandboxtest.Uids(sandboxtest.FindProc(e.NodeDir(), idA, "sandbox-init"))

	i.Sh(t, "echo secret > /workspace/left-behind")
	sandboxtest.Must[methods.OKOutput](t, i, methods.TerminateSandbox, map[string]any{"sandboxId": out.SandboxID})

	j := e.Instance("warm-two", "default", "echo")
	sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, j, methods.EnsureSandbox, struct{}{})
	if got := strings.TrimSpace(j.Sh(t, "ls -A /workspace")); got != "" {
		t.Errorf("the next user's workspace holds %q", got)
	}
	idB, _ := liveSandboxDir(t, j)
	uidB := sandboxtest.Uids(sandboxtest.FindProc(e.NodeDir(), idB, "sandbox-init"))
	if len(uidA) == 0 || len(uidB) == 0 || uidA[0] == uidB[0] {
		t.Errorf("two users' sandboxes ran as uids %v and %v, want two different ones", uidA, uidB)
	}
	waitPoolIdle(t, e, 2)
	if _, claimed := poolIdle(e); claimed != 2 {
		t.Errorf("the pool handed out %d members, want 2", claimed)
	}
}

// TestWarmPoolNeverShares: more starts at once than the pool holds each
// get a sandbox of their own: no member goes to two instances.
func TestWarmPoolNeverShares(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{WarmPool: 2})
	waitPoolIdle(t, e, 2)
	const n = 6
	insts := make([]*sandboxtest.Inst, n)
	for k := range insts {
		insts[k] = e.Instance("share-"+string(rune('a'+k)), "default", "")
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k, i := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = i.Call(methods.EnsureSandbox, struct{}{}, nil)
		}()
	}
	wg.Wait()
	cgs, pids := map[string]string{}, map[int]string{}
	for k, i := range insts {
		if errs[k] != nil {
			t.Fatalf("ensureSandbox of %s: %v", i.ID, errs[k])
		}
		id, dir := liveSandboxDir(t, i)
		name := id
		if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
			name = string(b)
		}
		if other, ok := cgs[name]; ok {
			t.Errorf("instances %s and %s share the sandbox %s", other, i.ID, name)
		}
		cgs[name] = i.ID
		pid := sandboxtest.FindProc(e.NodeDir(), id, "sandbox-init")
		if other, ok := pids[pid]; ok || pid == 0 {
			t.Errorf("instances %s and %s share supervisor pid %d", other, i.ID, pid)
		}
		pids[pid] = i.ID
		if got := strings.TrimSpace(i.Sh(t, "echo $ROOST_INSTANCE_ID")); got != i.ID {
			t.Errorf("instance %s's sandbox says it belongs to %q", i.ID, got)
		}
	}
	if _, claimed := poolIdle(e); claimed < 1 {
		t.Errorf("no start claimed a warm member")
	}
}

// TestWarmPoolRetired: a node told to keep another shape retires the
// members of the old one (what a changed template does when the platform
// next tells the node its pools), and one told to keep none has none.
func TestWarmPoolRetired(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{WarmPool: 1})
	waitPoolIdle(t, e, 1)
	old, _ := os.ReadDir(filepath.Join(e.NodeDir(), "sandboxes", "pool"))
	if len(old) != 1 {
		t.Fatalf("%d members on disk, want 1", len(old))
	}
	oldPids := sandboxtest.HostPids(e.NodeDir(), "pool/"+old[0].Name())
	if len(oldPids) == 0 {
		t.Fatal("the member has no processes")
	}
	changed := nodeapi.PoolSpec{Template: "default", Isolation: "bubblewrap", Network: "none", MemoryMB: 512, CPUs: 1, Pids: 256, Size: 1}
	if _, err := e.Srv.LocalNode().SetPools(nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{changed}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Medium, "the old member retired and a new one idle", func() bool {
		_, err := os.Stat(filepath.Join(e.NodeDir(), "sandboxes", "pool", old[0].Name()))
		idle, _ := poolIdle(e)
		return os.IsNotExist(err) && idle == 1
	})
	for _, p := range oldPids {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("process %d of the retired member still runs", p)
		}
	}
	if d := sandboxtest.CgroupDirs(old[0].Name()); len(d) > 0 {
		t.Errorf("the retired member left cgroups %v", d)
	}
	// An instance of the default template starts cold now: its shape is
	// not the pool's.
	i := e.Instance("after-retire", "default", "")
	sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, struct{}{})
	if evs := i.Events("sandbox_running"); len(evs) == 0 || strings.Contains(evs[len(evs)-1].Detail, "warm pool") {
		t.Errorf("a start of a shape no pool keeps came from a pool: %+v", evs)
	}
	if _, err := e.Srv.LocalNode().SetPools(nodeapi.PoolConfig{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Medium, "no member left", func() bool {
		left, _ := os.ReadDir(filepath.Join(e.NodeDir(), "sandboxes", "pool"))
		return len(left) == 0
	})
}
