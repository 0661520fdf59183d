package platform_test

// A platform killed with SIGKILL while a command runs in a sandbox, then
// started again on the same data dir: the commands answered before the
// kill are in the history as they ended, and the one that was running is
// there too, ended for good.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	client "github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
)

func TestCrashKeepsExecHistory(t *testing.T) {
	sandboxtest.RequireBwrap(t)
	bin := testutil.RoostBinary(t)
	dir := sandboxtest.DataDir(t)
	args := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), "--data", dir, "--log-level", "warn"}
	first := testutil.StartRoost(t, bin, nil, true, args...)
	ctx := rpctest.Ctx(t)
	c := client.New(first.URL, first.Key, nil)
	sandboxtest.WaitLocalNode(t, ctx, c)
	inst, err := c.CreateInstance(ctx, methods.CreateInstanceInput{Name: "crash", TemplateSlug: "default"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, methods.CreateInstanceTokenInput{InstanceID: inst.InstanceID})
	if err != nil {
		t.Fatal(err)
	}
	ic := client.NewInstance(first.URL, inst.InstanceID, tok.Token, nil)
	var done []string
	for k := range 5 {
		var out methods.InstanceExecInSandboxOutputFull
		if err := ic.Call(ctx, methods.ExecInSandbox, map[string]any{"command": fmt.Sprintf("echo %d", k)}, &out); err != nil {
			t.Fatalf("exec %d: %v\n%s", k, err, first.Log())
		}
		done = append(done, out.ExecID)
	}
	// One more runs when the platform dies.
	running := make(chan error, 1)
	go func() {
		running <- ic.Call(context.Background(), methods.ExecInSandbox, map[string]any{"command": "sleep 600"}, nil)
	}()
	listed := func(c *client.InstanceClient) methods.ListExecsOutput {
		var out methods.ListExecsOutput
		if err := c.Call(ctx, methods.ListExecs, map[string]any{}, &out); err != nil {
			t.Fatalf("listExecs: %v", err)
		}
		return out
	}
	var sleeping string
	testutil.Eventually(t, testutil.Medium, "the sleep in the history, running", func() bool {
		for _, e := range listed(ic).Execs {
			if e.Command == "sleep 600" && e.Status == "running" {
				sleeping = e.ExecID
				return true
			}
		}
		return false
	})
	first.Kill(t)
	if err := <-running; err == nil {
		t.Fatal("the command answered although its platform was killed")
	}

	second := testutil.StartRoost(t, bin, nil, false, args...)
	ic = client.NewInstance(second.URL, inst.InstanceID, tok.Token, nil)
	byID := map[string]methods.ExecSummary{}
	for _, e := range listed(ic).Execs {
		byID[e.ExecID] = e
	}
	for k, id := range done {
		e, ok := byID[id]
		if !ok || e.Status != "completed" || e.ExitCode == nil || *e.ExitCode != 0 || e.FinishedAt == nil {
			t.Errorf("exec %d (%s) after the restart: %+v (found %v), want completed with exit code 0", k, id, e, ok)
		}
	}
	testutil.Eventually(t, testutil.Medium, "the running command ended in the history", func() bool {
		for _, e := range listed(ic).Execs {
			if e.ExecID == sleeping {
				return e.Status != "running"
			}
		}
		t.Fatalf("the command running at the kill (%s) is gone from the history", sleeping)
		return false
	})
	if e := byID[sleeping]; e.ExecID == "" {
		t.Errorf("the command running at the kill is not in the history: %+v", listed(ic).Execs)
	}
}

// TestStopSaysWhatKeepsRunning: a stopped `roost serve` says that its
// embedded node's sandboxes keep running, and how to end them; the command
// it names does.
func TestStopSaysWhatKeepsRunning(t *testing.T) {
	sandboxtest.RequireBwrap(t)
	bin := testutil.RoostBinary(t)
	dir := sandboxtest.DataDir(t)
	p := testutil.StartRoost(t, bin, nil, true, "--listen", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), "--data", dir, "--log-level", "warn")
	ctx := rpctest.Ctx(t)
	c := client.New(p.URL, p.Key, nil)
	sandboxtest.WaitLocalNode(t, ctx, c)
	inst, err := c.CreateInstance(ctx, methods.CreateInstanceInput{Name: "left", TemplateSlug: "default"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, methods.CreateInstanceTokenInput{InstanceID: inst.InstanceID})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.NewInstance(p.URL, inst.InstanceID, tok.Token, nil).Call(ctx, methods.EnsureSandbox, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	p.Stop(t)
	out := p.Stdout()
	want := "roost node --data " + filepath.Join(dir, "node") + " --kill-sandboxes"
	if !strings.Contains(out, "1 sandbox of the embedded node keeps running") || !strings.Contains(out, want) {
		t.Fatalf("roost serve said at its stop:\n%s\nwant that 1 sandbox keeps running and %q", out, want)
	}
	if res := runCLI(t, bin, nil, "", "node", "--data", filepath.Join(dir, "node"), "--kill-sandboxes"); res.code != 0 {
		t.Fatalf("the command it named exited %d: %s", res.code, res.stderr)
	}
	id := firstSandbox(t, filepath.Join(dir, "node"))
	testutil.Eventually(t, testutil.Short, "no process of the sandbox left", func() bool {
		return len(sandboxtest.HostPids(filepath.Join(dir, "node"), id)) == 0
	})
}

// firstSandbox is the id of a sandbox directory under a node's data dir,
// or "" when there is none.
func firstSandbox(t *testing.T, nodeDir string) string {
	entries, _ := os.ReadDir(filepath.Join(nodeDir, "sandboxes"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "sbx_") {
			return e.Name()
		}
	}
	return ""
}
