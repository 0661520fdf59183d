package sandbox_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	client "github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// These tests call as a client written from the contract does: each call
// right after the one before, never polling for a state first.

// startReady starts a platform with its node and the echo agent.
func startReady(t *testing.T, cfg platform.Config) *sandboxtest.Env {
	t.Helper()
	e := sandboxtest.Start(t, cfg)
	e.Publish("echo", "-tick", "50ms")
	return e
}

func TestReadyBackToBack(t *testing.T) {
	e := startReady(t, platform.Config{})
	i := e.Instance("back-to-back", "default", "echo")
	created := sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, struct{}{})
	if created.State != "running" {
		t.Fatalf("ensureSandbox answered state %q, want running", created.State)
	}
	ex := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": "echo one"})
	if !ex.Success || strings.TrimSpace(ex.Stdout) != "one" {
		t.Fatalf("exec = %+v", ex)
	}
	sandboxtest.Must[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": created.SandboxID, "lines": 5})
	sandboxtest.Must[methods.OKOutput](t, i, methods.PauseSandbox, map[string]any{"sandboxId": created.SandboxID})
	ex = sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": "echo two"})
	if !ex.Success || strings.TrimSpace(ex.Stdout) != "two" {
		t.Fatalf("exec after pause (resumes on demand) = %+v", ex)
	}
	sandboxtest.Must[methods.OKOutput](t, i, methods.TerminateSandbox, map[string]any{"sandboxId": created.SandboxID})

	// createSandbox, and resumeSandbox after a pause, also answer ready.
	c := sandboxtest.Must[methods.InstanceCreateSandboxOutput](t, i, methods.CreateSandbox, struct{}{})
	sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": "true"})
	sandboxtest.Must[methods.OKOutput](t, i, methods.PauseSandbox, map[string]any{"sandboxId": c.SandboxID})
	sandboxtest.Must[methods.OKOutput](t, i, methods.ResumeSandbox, struct{}{})
	sandboxtest.Must[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": c.SandboxID})

	// wait: false keeps the early answer.
	sandboxtest.Must[methods.OKOutput](t, i, methods.TerminateSandbox, map[string]any{"sandboxId": c.SandboxID})
	early := sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, map[string]any{"wait": false})
	if early.State != "creating" && early.State != "running" {
		t.Fatalf("ensureSandbox wait:false answered %q", early.State)
	}
}

func TestReadyConcurrentCallsOnANewInstance(t *testing.T) {
	e := startReady(t, platform.Config{})
	i := e.Instance("concurrent", "default", "echo")
	id, ic := i.ID, i.Client
	st, err := e.Admin.InstanceStatus(e.Ctx, id)
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
			err := ic.Call(e.Ctx, methods.ExecInSandbox, map[string]any{"command": fmt.Sprintf("echo %d", i)}, &ex)
			if err == nil && (!ex.Success || strings.TrimSpace(ex.Stdout) != fmt.Sprint(i)) {
				err = fmt.Errorf("exec %d = %+v", i, ex)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			var logs methods.GetAgentLogsOutput
			errs <- ic.Call(e.Ctx, methods.GetAgentLogs, map[string]any{"sandboxId": sandboxID, "lines": 3}, &logs)
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
	if err := ic.Call(e.Ctx, methods.ListExecs, map[string]any{"limit": 100}, &list); err != nil {
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
	after, err := e.Admin.InstanceStatus(e.Ctx, id)
	if err != nil || after.Sandbox == nil || after.Sandbox.E2BID != sandboxID || after.Sandbox.State != "running" {
		t.Fatalf("after the calls the instance's sandbox is %+v (%v), want %s running", after.Sandbox, err, sandboxID)
	}
}

func TestReadyEnsureRacesTerminate(t *testing.T) {
	e := startReady(t, platform.Config{})
	i := e.Instance("race", "default", "echo")
	id, ic := i.ID, i.Client
	st, err := e.Admin.InstanceStatus(e.Ctx, id)
	if err != nil || st.Sandbox == nil {
		t.Fatalf("instances.status = %+v, %v", st, err)
	}
	var wg sync.WaitGroup
	var ensureErr, termErr error
	var ens methods.InstanceEnsureSandboxOutput
	wg.Add(2)
	go func() {
		defer wg.Done()
		ensureErr = ic.Call(e.Ctx, methods.EnsureSandbox, struct{}{}, &ens)
	}()
	go func() {
		defer wg.Done()
		var ok methods.OKOutput
		termErr = ic.Call(e.Ctx, methods.TerminateSandbox, map[string]any{"sandboxId": st.Sandbox.E2BID}, &ok)
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
	again := sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, struct{}{})
	if again.State != "running" {
		t.Fatalf("ensureSandbox after the race answered %q", again.State)
	}
	sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": "true"})
}

func TestReadyAgentExitsAtStart(t *testing.T) {
	e := startReady(t, platform.Config{})
	e.Publish("crashes", "-unhealthy", "-crash-after", "300ms", "-crash-code", "7")
	i := e.Instance("crashes", "default", "crashes")
	id, ic := i.ID, i.Client
	var out methods.InstanceEnsureSandboxOutput
	err := ic.Call(e.Ctx, methods.EnsureSandbox, struct{}{}, &out)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Type != methods.Unavailable {
		t.Fatalf("ensureSandbox of an agent that exits at start: %v, want unavailable", err)
	}
	if !strings.Contains(ce.Message, "exited with code 7") || !strings.Contains(ce.Message, "log lines") {
		t.Errorf("the error does not say why: %q", ce.Message)
	}
	st, err := e.Admin.InstanceStatus(e.Ctx, id)
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
	e := startReady(t, platform.Config{TemplatesDir: tpl})
	e.Publish("sick", "-unhealthy")
	i := e.Instance("sick", "quick", "sick")
	ic := i.Client
	var out methods.InstanceEnsureSandboxOutput
	err := ic.Call(e.Ctx, methods.EnsureSandbox, struct{}{}, &out)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Type != methods.Timeout || !strings.Contains(ce.Message, "GET /health") || !strings.Contains(ce.Message, "2s") {
		t.Fatalf("ensureSandbox of an agent that never gets healthy: %v, want a timeout naming the health check and the start timeout", err)
	}
	// The sandbox runs on, so that its agent can be looked into.
	ex := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": "echo looking"})
	if strings.TrimSpace(ex.Stdout) != "looking" {
		t.Fatalf("exec in the sandbox of a sick agent = %+v", ex)
	}
}
