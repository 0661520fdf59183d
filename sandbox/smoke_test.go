package sandbox_test

import (
	"strings"
	"testing"

	client "github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestSandboxSmoke(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	srv, admin, ctx := e.Srv, e.Admin, e.Ctx
	testutil.PublishTestAgent(t, admin, "echo", testutil.AgentManifest("1.0.0", "-tick", "100ms"))
	inst, err := admin.CreateInstance(ctx, methods.CreateInstanceInput{TemplateSlug: "default", Name: "smoke", BundleSlug: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Status != "initializing" {
		t.Fatalf("status = %s", inst.Status)
	}
	testutil.Eventually(t, testutil.Medium, "the instance ready", func() bool {
		g, err := admin.GetInstance(ctx, inst.InstanceID)
		return err == nil && g.Status == "ready"
	})
	tok, err := admin.CreateToken(ctx, methods.CreateInstanceTokenInput{InstanceID: inst.InstanceID})
	if err != nil {
		t.Fatal(err)
	}
	ic := client.NewInstance(srv.URL, inst.InstanceID, tok.Token, nil)
	var ens methods.InstanceEnsureSandboxOutput
	if err := ic.Call(ctx, methods.EnsureSandbox, struct{}{}, &ens); err != nil {
		t.Fatal(err)
	}
	var ex methods.InstanceExecInSandboxOutputFull
	if err := ic.Call(ctx, methods.ExecInSandbox, map[string]any{"command": "id -u; grep CapEff /proc/self/status; ls /agent"}, &ex); err != nil {
		t.Fatal(err)
	}
	t.Logf("exec: %+v", ex)
	if !ex.Success || !strings.Contains(ex.Stdout, "CapEff:\t0000000000000000") {
		t.Fatalf("exec = %+v", ex)
	}
	var logs methods.GetAgentLogsOutput
	testutil.Eventually(t, testutil.Short, "agent logs", func() bool {
		err := ic.Call(ctx, methods.GetAgentLogs, map[string]any{"sandboxId": ens.SandboxID, "lines": 5}, &logs)
		return err == nil && strings.Contains(logs.Logs, "tick")
	})
	t.Logf("logs: %q truncated=%v", logs.Logs, logs.Truncated)
	var ok methods.OKOutput
	if err := ic.Call(ctx, methods.PauseSandbox, map[string]any{"sandboxId": ens.SandboxID}, &ok); err != nil {
		t.Fatal(err)
	}
	// Work resumes a paused sandbox on demand.
	if err := ic.Call(ctx, methods.ExecInSandbox, map[string]any{"command": "true"}, &ex); err != nil || !ex.Success {
		t.Fatalf("exec on paused: %+v, %v", ex, err)
	}
	if err := ic.Call(ctx, methods.ResumeSandbox, struct{}{}, &ok); err != nil {
		t.Fatal(err)
	}
	st, err := admin.InstanceStatus(ctx, inst.InstanceID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.LifecycleEvents {
		t.Logf("event %s: %s", e.Event, e.Detail)
	}
	if err := ic.Call(ctx, methods.TerminateSandbox, map[string]any{"sandboxId": ens.SandboxID}, &ok); err != nil {
		t.Fatal(err)
	}
}
