package sandbox_test

// End-to-end tests of sandboxes when things break: the platform restarts
// (its sandboxes keep running and are re-learnt), the node restarts (it
// re-attaches to its sandboxes, or starts them again from their
// workspaces), a sandbox disappears under the platform (it becomes error
// with a reason), a node goes offline (calls answer unavailable at once;
// commands that were running are marked failed).

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	client "github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// TestSandboxPlatformRestart: the platform and its embedded node stop and
// start again on the same data dir; the sandbox keeps running (re-attached)
// or is started again from its workspace, and the platform knows it live.
func TestSandboxPlatformRestart(t *testing.T) {
	cases := []struct {
		name string
		// whileDown runs while the platform is stopped.
		whileDown   func(t *testing.T, e *sandboxtest.Env, id string)
		reattached  bool // the same supervisor runs after the restart
		wantStarted bool // a new agent_started event after the restart
	}{
		{"sandbox kept running: re-attached", func(t *testing.T, e *sandboxtest.Env, id string) {}, true, false},
		{"sandbox died with the node: started again from its workspace", func(t *testing.T, e *sandboxtest.Env, id string) {
			sandboxtest.KillOne(e.NodeDir(), id)
		}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := sandboxtest.Start(t, platform.Config{})
			e.Publish("restart", "-tick", "1s")
			i := e.Instance("restart", "default", "restart")
			id := i.Ensure(t)
			i.WaitStatus(t, methods.InstanceReady)
			i.Sh(t, "echo before > /workspace/before.txt")
			sup := sandboxtest.FindProc(e.NodeDir(), id, "sandbox-init")
			startedBefore := len(i.Events("agent_started"))

			e.Srv.Stop()
			c.whileDown(t, e, id)
			e.Restart(platform.Config{})
			i.Reconnect()

			i.WaitSandbox(t, methods.SandboxRunning)
			st := i.StatusNow()
			if st.Sandbox == nil || st.Sandbox.E2BID != id {
				t.Fatalf("after the restart instances.status shows sandbox %+v, want %s live", st.Sandbox, id)
			}
			testutil.Eventually(t, testutil.Medium, "exec in the sandbox again", func() bool {
				var o methods.InstanceExecInSandboxOutputFull
				err := i.Call(methods.ExecInSandbox, map[string]any{"command": "cat /workspace/before.txt"}, &o)
				return err == nil && o.Stdout == "before\n"
			})
			now := sandboxtest.FindProc(e.NodeDir(), id, "sandbox-init")
			if now == 0 {
				t.Fatal("no supervisor runs the sandbox after the restart")
			}
			if c.reattached && now != sup {
				t.Errorf("supervisor pid %d after the restart, want the same %d (re-attached)", now, sup)
			}
			if !c.reattached && now == sup {
				t.Errorf("supervisor pid %d survived being killed", now)
			}
			if c.wantStarted {
				testutil.Eventually(t, testutil.Medium, "agent_started from the restarted sandbox", func() bool {
					return len(i.Events("agent_started")) > startedBefore
				})
			}
			if errs := i.Events("sandbox_error"); len(errs) > 0 {
				t.Errorf("the restart made the sandbox error: %+v", errs)
			}
			// Events still flow, and pause and resume still work.
			before := len(i.Events("agent_started"))
			sandboxtest.Must[methods.OKOutput](t, i, methods.RestartAgent, map[string]any{"sandboxId": id})
			testutil.Eventually(t, testutil.Medium, "agent_started after restartAgent", func() bool {
				return len(i.Events("agent_started")) > before
			})
			sandboxtest.Must[methods.OKOutput](t, i, methods.PauseSandbox, map[string]any{"sandboxId": id})
			sandboxtest.Must[methods.OKOutput](t, i, methods.ResumeSandbox, struct{}{})
			if got := i.Sh(t, "echo ok"); got != "ok" {
				t.Errorf("exec after pause and resume = %q", got)
			}
		})
	}
}

// TestSandboxLostByNode: a sandbox the platform believes live but its node
// no longer runs becomes error, with the reason in the instance's history;
// ensureSandbox then starts a new one.
func TestSandboxLostByNode(t *testing.T) {
	cases := []struct {
		name   string
		lose   func(t *testing.T, e *sandboxtest.Env, id string)
		reason string
	}{
		{"its supervisor is killed", func(t *testing.T, e *sandboxtest.Env, id string) {
			pid := sandboxtest.FindProc(e.NodeDir(), id, "sandbox-init")
			if pid == 0 {
				t.Fatal("no supervisor on the host")
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}, "supervisor exited"},
		{"the node comes back without it", func(t *testing.T, e *sandboxtest.Env, id string) {
			e.Srv.Stop()
			sandboxtest.KillOne(e.NodeDir(), id)
			if err := os.RemoveAll(filepath.Join(e.NodeDir(), "sandboxes", id)); err != nil {
				t.Fatal(err)
			}
			e.Restart(platform.Config{})
		}, "without this sandbox"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := sandboxtest.Start(t, platform.Config{})
			e.Publish("lost", "-tick", "1s")
			i := e.Instance("lost", "default", "lost")
			id := i.Ensure(t)
			i.WaitStatus(t, methods.InstanceReady)

			c.lose(t, e, id)
			i.Reconnect()
			i.WaitSandbox(t, methods.SandboxError)
			i.WaitStatus(t, methods.SandboxError)
			evs := i.Events("sandbox_error")
			if len(evs) != 1 || !strings.Contains(evs[0].Detail, c.reason) {
				t.Errorf("sandbox_error events %+v, want one saying %q", evs, c.reason)
			}
			err := i.Call(methods.ExecInSandbox, map[string]any{"command": "true"}, nil)
			if client.TypeOf(err) != methods.Conflict {
				t.Errorf("exec on the lost sandbox: %v, want conflict", err)
			}
			next := i.Ensure(t)
			if next == id {
				t.Fatalf("ensureSandbox gave the lost sandbox %s again", id)
			}
			i.WaitStatus(t, methods.InstanceReady)
			if got := i.Sh(t, "echo new"); got != "new" {
				t.Errorf("exec in the new sandbox = %q", got)
			}
		})
	}
}

// sbNode is `roost node` running as a child process.
type sbNode struct {
	t      *testing.T
	bin    string
	args   []string
	mu     sync.Mutex
	cmd    *exec.Cmd
	out    bytes.Buffer
	exited chan struct{}
}

func (n *sbNode) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.Write(p)
}

func (n *sbNode) log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

// start starts the node process, with extra arguments (the enrollment
// token on the first start).
func (n *sbNode) start(extra ...string) {
	n.t.Helper()
	cmd := exec.Command(n.bin, append(append([]string{"node"}, n.args...), extra...)...)
	cmd.Stdout, cmd.Stderr = n, n
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start roost node: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.cmd, n.exited = cmd, exited
}

// kill ends the node process with SIGKILL: it has no chance to say goodbye.
func (n *sbNode) kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// TestSandboxNodeOffline: a separate `roost node` process is killed and
// started again. Calls to its sandbox answer unavailable while it is away;
// the commands that were running when it went are failed; its sandbox
// outlives it and works again once it is back.
func TestSandboxNodeOffline(t *testing.T) {
	sandboxtest.RequireBwrap(t)
	dir := sandboxtest.DataDir(t) // its cleanup kills the sandboxes under dir/node
	srv := testutil.StartServer(t, platform.Config{DataDir: filepath.Join(dir, "platform")})
	admin := srv.Admin()
	ctx := testutil.Context(t, testutil.Long)
	tok, err := admin.CreateEnrollToken(ctx, methods.CreateEnrollTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	n := &sbNode{t: t, bin: testutil.RoostBinary(t), args: []string{"--platform", srv.URL, "--data", filepath.Join(dir, "node"),
		"--name", "worker", "--heartbeat", "1s", "--log-level", "warn"}}
	t.Cleanup(n.kill)
	n.start("--token", tok.Token)
	defer func() {
		if t.Failed() {
			t.Logf("node log:\n%s", n.log())
		}
	}()
	nodeStatus := func() string {
		l, err := admin.ListNodes(ctx)
		if err != nil {
			return ""
		}
		for _, x := range l.Nodes {
			if x.Name == "worker" {
				return x.Status
			}
		}
		return ""
	}
	waitNode := func(t *testing.T, want string) {
		t.Helper()
		testutil.Eventually(t, testutil.Medium, "node worker "+want, func() bool { return nodeStatus() == want })
	}
	waitNode(t, methods.NodeOnline)

	e := &sandboxtest.Env{T: t, Srv: srv, Admin: admin, Key: srv.AdminKey, Ctx: ctx}
	i := e.Instance("remote", "default", "")
	id := i.Ensure(t)
	i.Sh(t, "echo kept > /workspace/kept.txt")

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"a node restart marks the commands that were running as failed", func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- i.Call(methods.ExecInSandbox, map[string]any{"command": "sleep 30"}, nil) }()
			var running string
			testutil.Eventually(t, testutil.Medium, "sleep 30 running", func() bool {
				l := sandboxtest.Must[methods.ListExecsOutput](t, i, methods.ListExecs, struct{}{})
				for _, x := range l.Execs {
					if x.Command == "sleep 30" && x.Status == "running" {
						running = x.ExecID
						return true
					}
				}
				return false
			})
			n.kill()
			if err := <-done; client.TypeOf(err) != methods.Unavailable {
				t.Errorf("the exec whose node died answered %v, want unavailable", err)
			}
			n.start()
			waitNode(t, methods.NodeOnline)
			l := sandboxtest.Must[methods.ListExecsOutput](t, i, methods.ListExecs, struct{}{})
			for _, x := range l.Execs {
				if x.ExecID == running && (x.Status != "failed" || x.Detail == "" || x.FinishedAt == nil) {
					t.Errorf("the exec running when the node died is %+v, want failed with a detail", x)
				}
			}
			if got := i.Sh(t, "cat /workspace/kept.txt"); got != "kept" {
				t.Errorf("after the node restart: %q", got)
			}
		}},
		{"calls to a sandbox whose node is offline are unavailable at once", func(t *testing.T) {
			n.kill()
			waitNode(t, methods.NodeOffline)
			calls := []struct {
				method string
				in     map[string]any
			}{
				{methods.ExecInSandbox, map[string]any{"command": "true"}},
				{methods.GetAgentLogs, map[string]any{"sandboxId": id}},
				{methods.PauseSandbox, map[string]any{"sandboxId": id}},
			}
			for _, c := range calls {
				ce := sandboxtest.WantErr(t, c.method, i.Call(c.method, c.in, nil), methods.Unavailable)
				if !strings.Contains(ce.Message, "not connected") {
					t.Errorf("%s: message %q does not say the node is away", c.method, ce.Message)
				}
			}
			if s := i.SandboxState(); s != methods.SandboxRunning {
				t.Errorf("sandbox state %q while its node is away, want running", s)
			}
		}},
		{"the node is back: its sandbox works again", func(t *testing.T) {
			n.start()
			waitNode(t, methods.NodeOnline)
			if got := i.Sh(t, "cat /workspace/kept.txt"); got != "kept" {
				t.Errorf("after the node came back: %q", got)
			}
			if s := i.SandboxState(); s != methods.SandboxRunning {
				t.Errorf("sandbox state %q, want running", s)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
	sandboxtest.Must[methods.OKOutput](t, i, methods.TerminateSandbox, map[string]any{"sandboxId": id})
}

// TestSandboxDeepDataDir: a data dir deep in the file tree makes socket
// paths longer than a unix socket address holds; sandboxes work anyway,
// with and without bubblewrap.
func TestSandboxDeepDataDir(t *testing.T) {
	deep := filepath.Join(sandboxtest.DataDir(t), strings.Repeat("d", 40), strings.Repeat("e", 40))
	if err := os.MkdirAll(deep, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sandboxtest.KillAll(filepath.Join(deep, "node")) })
	tpl := sbTemplates(t, map[string]map[string]any{"plain": {"name": "Plain", "isolation": "none"}})
	e := sandboxtest.Start(t, platform.Config{DataDir: deep, TemplatesDir: tpl})
	for _, template := range []string{"default", "plain"} {
		t.Run(template, func(t *testing.T) {
			i := e.Instance("deep-"+template, template, "")
			id := i.Ensure(t)
			if sock := filepath.Join(e.NodeDir(), "sandboxes", id, "run", "sup.sock"); len(sock) <= 107 {
				t.Fatalf("the socket path %s is short enough: the test proves nothing", sock)
			}
			if got := i.Sh(t, "echo deep"); got != "deep" {
				t.Errorf("exec = %q", got)
			}
			sandboxtest.Must[methods.OKOutput](t, i, methods.TerminateSandbox, map[string]any{"sandboxId": id})
		})
	}
}

// TestWorkspaceSurvivesError: a sandbox whose supervisor dies goes to
// error, and the next ensureSandbox starts a new sandbox on the same node
// with the old one's workspace; what is left of the old one goes, and the
// instance's archive removes what an errored sandbox kept.
func TestWorkspaceSurvivesError(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("survives", "default", "")
	id := i.Ensure(t)
	i.Sh(t, "mkdir -p /workspace/src && echo precious > /workspace/src/work.txt")
	sandboxtest.KillOne(e.NodeDir(), id)
	i.WaitSandbox(t, methods.SandboxError)

	out := sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, struct{}{})
	if got := i.Sh(t, "cat /workspace/src/work.txt"); got != "precious" {
		t.Fatalf("the new sandbox's workspace holds %q, want the old one's file", got)
	}
	newID, _ := liveSandboxDir(t, i)
	if newID == id {
		t.Fatalf("no new sandbox was made (still %s)", id)
	}
	if _, err := os.Stat(filepath.Join(e.NodeDir(), "sandboxes", id)); !os.IsNotExist(err) {
		t.Errorf("the old sandbox's directory is still on the node: %v", err)
	}
	_ = out

	// An errored sandbox's kept workspace goes with the instance.
	sandboxtest.KillOne(e.NodeDir(), newID)
	i.WaitSandbox(t, methods.SandboxError)
	if _, err := os.Stat(filepath.Join(e.NodeDir(), "sandboxes", newID, "workspace")); err != nil {
		t.Fatalf("the errored sandbox's workspace is gone before the archive: %v", err)
	}
	if _, err := e.Admin.ArchiveInstance(e.Ctx, i.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.NodeDir(), "sandboxes", newID)); !os.IsNotExist(err) {
		t.Errorf("after the archive the errored sandbox's directory is still on the node: %v", err)
	}
}
