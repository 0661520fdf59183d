package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// These tests call as a client written from the contract does: each call
// right after the one before, never polling for a state first.

type readyEnv struct {
	srv   *testutil.Server
	admin *client.Client
	ctx   context.Context
}

func startReady(t *testing.T) *readyEnv { return startReadyWith(t, platform.Config{}) }

func startReadyWith(t *testing.T, cfg platform.Config) *readyEnv {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		testutil.Require(t, "bubblewrap (bwrap)", "apt-get install bubblewrap")
	}
	dir := t.TempDir()
	_ = os.Chmod(filepath.Dir(dir), 0o711)
	_ = os.Chmod(dir, 0o711)
	t.Cleanup(func() { testutil.KillSandboxes(filepath.Join(dir, "node")) })
	cfg.DataDir = dir
	srv := testutil.StartServer(t, cfg, testutil.WithLocalNode(t))
	e := &readyEnv{srv: srv, admin: srv.Admin(), ctx: testutil.Context(t, testutil.Long)}
	testutil.PublishTestAgent(t, e.admin, "echo", testutil.AgentManifest("1.0.0", "-tick", "50ms"))
	return e
}

// instance creates an instance of bundle and returns its instance client.
func (e *readyEnv) instance(t *testing.T, name, bundle string) (string, *client.InstanceClient) {
	t.Helper()
	return e.instanceOf(t, "default", name, bundle)
}

func (e *readyEnv) instanceOf(t *testing.T, template, name, bundle string) (string, *client.InstanceClient) {
	t.Helper()
	out, err := e.admin.CreateInstance(e.ctx, methods.CreateInstanceInput{TemplateSlug: template, Name: name, BundleSlug: bundle})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.admin.CreateToken(e.ctx, methods.CreateInstanceTokenInput{InstanceID: out.InstanceID})
	if err != nil {
		t.Fatal(err)
	}
	return out.InstanceID, client.NewInstance(e.srv.URL, out.InstanceID, tok.Token, nil)
}

func call[Out any](t *testing.T, ctx context.Context, ic *client.InstanceClient, method string, in any) Out {
	t.Helper()
	var out Out
	if err := ic.Call(ctx, method, in, &out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return out
}

func TestReadyBackToBack(t *testing.T) {
	e := startReady(t)
	_, ic := e.instance(t, "back-to-back", "echo")
	created := call[methods.InstanceEnsureSandboxOutput](t, e.ctx, ic, methods.EnsureSandbox, struct{}{})
	if created.State != "running" {
		t.Fatalf("ensureSandbox answered state %q, want running", created.State)
	}
	ex := call[methods.InstanceExecInSandboxOutputFull](t, e.ctx, ic, methods.ExecInSandbox, map[string]any{"command": "echo one"})
	if !ex.Success || strings.TrimSpace(ex.Stdout) != "one" {
		t.Fatalf("exec = %+v", ex)
	}
	call[methods.GetAgentLogsOutput](t, e.ctx, ic, methods.GetAgentLogs, map[string]any{"sandboxId": created.SandboxID, "lines": 5})
	call[methods.OKOutput](t, e.ctx, ic, methods.PauseSandbox, map[string]any{"sandboxId": created.SandboxID})
	ex = call[methods.InstanceExecInSandboxOutputFull](t, e.ctx, ic, methods.ExecInSandbox, map[string]any{"command": "echo two"})
	if !ex.Success || strings.TrimSpace(ex.Stdout) != "two" {
		t.Fatalf("exec after pause (resumes on demand) = %+v", ex)
	}
	call[methods.OKOutput](t, e.ctx, ic, methods.TerminateSandbox, map[string]any{"sandboxId": created.SandboxID})

	// createSandbox, and resumeSandbox after a pause, also answer ready.
	c := call[methods.InstanceCreateSandboxOutput](t, e.ctx, ic, methods.CreateSandbox, struct{}{})
	call[methods.InstanceExecInSandboxOutputFull](t, e.ctx, ic, methods.ExecInSandbox, map[string]any{"command": "true"})
	call[methods.OKOutput](t, e.ctx, ic, methods.PauseSandbox, map[string]any{"sandboxId": c.SandboxID})
	call[methods.OKOutput](t, e.ctx, ic, methods.ResumeSandbox, struct{}{})
	call[methods.GetAgentLogsOutput](t, e.ctx, ic, methods.GetAgentLogs, map[string]any{"sandboxId": c.SandboxID})

	// wait: false keeps the early answer.
	call[methods.OKOutput](t, e.ctx, ic, methods.TerminateSandbox, map[string]any{"sandboxId": c.SandboxID})
	early := call[methods.InstanceEnsureSandboxOutput](t, e.ctx, ic, methods.EnsureSandbox, map[string]any{"wait": false})
	if early.State != "creating" && early.State != "running" {
		t.Fatalf("ensureSandbox wait:false answered %q", early.State)
	}
}

func TestReadyConcurrentCallsOnANewInstance(t *testing.T) {
	e := startReady(t)
	id, ic := e.instance(t, "concurrent", "echo")
	st, err := e.admin.InstanceStatus(e.ctx, id)
	if err != nil || st.Sandbox == nil {
		t.Fatalf("instances.status = %+v, %v", st, err)
	}
	sandboxID := st.Sandbox.E2BID
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			var ex methods.InstanceExecInSandboxOutputFull
			err := ic.Call(e.ctx, methods.ExecInSandbox, map[string]any{"command": fmt.Sprintf("echo %d", i)}, &ex)
			if err == nil && (!ex.Success || strings.TrimSpace(ex.Stdout) != fmt.Sprint(i)) {
				err = fmt.Errorf("exec %d = %+v", i, ex)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			var logs methods.GetAgentLogsOutput
			errs <- ic.Call(e.ctx, methods.GetAgentLogs, map[string]any{"sandboxId": sandboxID, "lines": 3}, &logs)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var list methods.ListExecsOutput
	if err := ic.Call(e.ctx, methods.ListExecs, map[string]any{"limit": 100}, &list); err != nil {
		t.Fatal(err)
	}
	if list.Total != n {
		t.Errorf("history holds %d commands, want %d", list.Total, n)
	}
	for _, x := range list.Execs {
		if x.SandboxID != sandboxID {
			t.Errorf("command %s ran in sandbox %s, want the one sandbox %s", x.ExecID, x.SandboxID, sandboxID)
		}
	}
	after, err := e.admin.InstanceStatus(e.ctx, id)
	if err != nil || after.Sandbox == nil || after.Sandbox.E2BID != sandboxID || after.Sandbox.State != "running" {
		t.Fatalf("after the calls the instance's sandbox is %+v (%v), want %s running", after.Sandbox, err, sandboxID)
	}
}

func TestReadyEnsureRacesTerminate(t *testing.T) {
	e := startReady(t)
	id, ic := e.instance(t, "race", "echo")
	st, err := e.admin.InstanceStatus(e.ctx, id)
	if err != nil || st.Sandbox == nil {
		t.Fatalf("instances.status = %+v, %v", st, err)
	}
	var wg sync.WaitGroup
	var ensureErr, termErr error
	var ens methods.InstanceEnsureSandboxOutput
	wg.Add(2)
	go func() {
		defer wg.Done()
		ensureErr = ic.Call(e.ctx, methods.EnsureSandbox, struct{}{}, &ens)
	}()
	go func() {
		defer wg.Done()
		var ok methods.OKOutput
		termErr = ic.Call(e.ctx, methods.TerminateSandbox, map[string]any{"sandboxId": st.Sandbox.E2BID}, &ok)
	}()
	wg.Wait()
	if termErr != nil {
		t.Fatalf("terminateSandbox: %v", termErr)
	}
	if ensureErr != nil {
		// It lost the race: a conflict that says what happened.
		var ce *client.Error
		if !errors.As(ensureErr, &ce) || ce.Type != methods.Conflict || !strings.Contains(ce.Message, "terminated") {
			t.Fatalf("ensureSandbox racing terminate: %v", ensureErr)
		}
	}
	// Whatever the order, the next ensure answers a sandbox that works.
	again := call[methods.InstanceEnsureSandboxOutput](t, e.ctx, ic, methods.EnsureSandbox, struct{}{})
	if again.State != "running" {
		t.Fatalf("ensureSandbox after the race answered %q", again.State)
	}
	call[methods.InstanceExecInSandboxOutputFull](t, e.ctx, ic, methods.ExecInSandbox, map[string]any{"command": "true"})
}

func TestReadyAgentExitsAtStart(t *testing.T) {
	e := startReady(t)
	testutil.PublishTestAgent(t, e.admin, "crashes", testutil.AgentManifest("1.0.0", "-unhealthy", "-crash-after", "300ms", "-crash-code", "7"))
	id, ic := e.instance(t, "crashes", "crashes")
	var out methods.InstanceEnsureSandboxOutput
	err := ic.Call(e.ctx, methods.EnsureSandbox, struct{}{}, &out)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Type != methods.Unavailable {
		t.Fatalf("ensureSandbox of an agent that exits at start: %v, want unavailable", err)
	}
	if !strings.Contains(ce.Message, "exited with code 7") || !strings.Contains(ce.Message, "log lines") {
		t.Errorf("the error does not say why: %q", ce.Message)
	}
	st, err := e.admin.InstanceStatus(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "error" || st.Sandbox == nil || st.Sandbox.State != "error" {
		t.Fatalf("after the failed start: instance %s, sandbox %+v; want both error", st.Status, st.Sandbox)
	}
	found := false
	for _, ev := range st.LifecycleEvents {
		if ev.Event == "sandbox_error" && strings.Contains(ev.Detail, "exited with code 7") {
			found = true
		}
	}
	if !found {
		t.Errorf("no sandbox_error event with the reason in %+v", st.LifecycleEvents)
	}
}

func TestReadyHealthTimeout(t *testing.T) {
	tpl := t.TempDir()
	if err := os.WriteFile(filepath.Join(tpl, "quick.json"), []byte(`{"slug": "quick", "isolation": "bubblewrap", "startTimeoutSeconds": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startReadyWith(t, platform.Config{TemplatesDir: tpl})
	testutil.PublishTestAgent(t, e.admin, "sick", testutil.AgentManifest("1.0.0", "-unhealthy"))
	_, ic := e.instanceOf(t, "quick", "sick", "sick")
	var out methods.InstanceEnsureSandboxOutput
	err := ic.Call(e.ctx, methods.EnsureSandbox, struct{}{}, &out)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Type != methods.Timeout || !strings.Contains(ce.Message, "GET /health") || !strings.Contains(ce.Message, "2s") {
		t.Fatalf("ensureSandbox of an agent that never gets healthy: %v, want a timeout naming the health check and the start timeout", err)
	}
	// The sandbox runs on, so that its agent can be looked into.
	ex := call[methods.InstanceExecInSandboxOutputFull](t, e.ctx, ic, methods.ExecInSandbox, map[string]any{"command": "echo looking"})
	if strings.TrimSpace(ex.Stdout) != "looking" {
		t.Fatalf("exec in the sandbox of a sick agent = %+v", ex)
	}
}
