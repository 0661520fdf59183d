package sandbox_test

// End-to-end tests of sandboxes through the instance RPC, with real
// bubblewrap on the embedded node: the lifecycle (create, ensure, pause,
// resume, terminate, restartAgent), the instance's status as its agent
// comes up, crashes and restarts, and the agent's logs. The helpers the
// sandbox tests share are in internal/testutil/sandboxtest.

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

func TestSandboxLifecycle(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	e.Publish("life", "-tick", "500ms")
	a := e.Instance("life-a", "default", "life")
	b := e.Instance("life-b", "default", "")
	var first, second, other string

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"instances.create schedules the sandbox: initializing, then ready when the agent is healthy", func(t *testing.T) {
			if a.Status != methods.InstanceInitializing {
				t.Fatalf("instances.create status = %q, want initializing", a.Status)
			}
			a.WaitStatus(t, methods.InstanceReady)
			st := a.StatusNow()
			if st.Sandbox == nil || st.Sandbox.State != methods.SandboxRunning {
				t.Fatalf("status.sandbox = %+v, want running", st.Sandbox)
			}
			if _, err := time.Parse(time.RFC3339, st.Sandbox.LastActivityAt); err != nil {
				t.Errorf("sandbox.lastActivityAt %q is not RFC 3339: %v", st.Sandbox.LastActivityAt, err)
			}
			var order []string
			for _, ev := range st.LifecycleEvents {
				order = append(order, ev.Event)
			}
			for _, want := range []string{"created", "sandbox_creating", "initializing", "sandbox_running", "agent_started", "ready"} {
				if !slices.Contains(order, want) {
					t.Errorf("lifecycle events %v lack %q", order, want)
				}
			}
			if slices.Index(order, "initializing") > slices.Index(order, "ready") {
				t.Errorf("ready came before initializing: %v", order)
			}
			run := a.Events("sandbox_running")
			if len(run) == 0 || !strings.Contains(run[0].Detail, "isolation bubblewrap") {
				t.Errorf("sandbox_running events %+v do not say the isolation", run)
			}
			other = b.Ensure(t)
			b.WaitStatus(t, methods.InstanceReady) // no bundle: ready once running
		}},
		{"ensureSandbox gives the live sandbox, the same twice", func(t *testing.T) {
			one := sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, a, methods.EnsureSandbox, struct{}{})
			two := sandboxtest.Must[methods.InstanceEnsureSandboxOutput](t, a, methods.EnsureSandbox, map[string]any{})
			if one.SandboxID == "" || one.SandboxID != two.SandboxID {
				t.Fatalf("ensureSandbox twice = %q then %q, want the same id", one.SandboxID, two.SandboxID)
			}
			if one.State != methods.SandboxRunning {
				t.Errorf("ensureSandbox state = %q, want running", one.State)
			}
			if got := a.StatusNow().Sandbox.E2BID; got != one.SandboxID {
				t.Errorf("instances.status sandbox id = %q, want %q", got, one.SandboxID)
			}
			first = one.SandboxID
		}},
		{"createSandbox while one is live is a conflict", func(t *testing.T) {
			err := a.Call(methods.CreateSandbox, struct{}{}, nil)
			sandboxtest.WantErr(t, "createSandbox", err, methods.Conflict)
		}},
		{"validateSandboxToken knows the sandbox's own token", func(t *testing.T) {
			tok := a.Sh(t, "printf %s \"$ROOST_SANDBOX_TOKEN\"")
			for _, c := range []struct {
				token string
				want  bool
			}{{tok, true}, {tok + "x", false}, {"rst_nope", false}} {
				out := sandboxtest.Must[methods.InstanceValidateSandboxTokenOutput](t, a, methods.ValidateSandboxToken, map[string]any{"sandboxId": first, "token": c.token})
				if out.Value != c.want {
					t.Errorf("validateSandboxToken(%.10q...) = %v, want %v", c.token, out.Value, c.want)
				}
			}
		}},
		{"pause, twice: the second is a no-op", func(t *testing.T) {
			for n := 0; n < 2; n++ {
				sandboxtest.Must[methods.OKOutput](t, a, methods.PauseSandbox, map[string]any{"sandboxId": first})
			}
			if s := a.SandboxState(); s != methods.SandboxPaused {
				t.Fatalf("sandbox state = %q, want paused", s)
			}
			if n := len(a.Events("sandbox_paused")); n != 1 {
				t.Errorf("%d sandbox_paused events, want 1", n)
			}
		}},
		{"resume, twice: running again", func(t *testing.T) {
			for n := 0; n < 2; n++ {
				sandboxtest.Must[methods.OKOutput](t, a, methods.ResumeSandbox, struct{}{})
			}
			if s := a.SandboxState(); s != methods.SandboxRunning {
				t.Fatalf("sandbox state = %q, want running", s)
			}
			if got := a.Sh(t, "echo alive"); got != "alive" {
				t.Errorf("exec after resume = %q", got)
			}
		}},
		{"restartAgent starts the agent again", func(t *testing.T) {
			before := len(a.Events("agent_started"))
			sandboxtest.Must[methods.OKOutput](t, a, methods.RestartAgent, map[string]any{"sandboxId": first})
			testutil.Eventually(t, testutil.Medium, "another agent_started event", func() bool {
				return len(a.Events("agent_started")) > before
			})
			if len(a.Events("agent_restart_requested")) == 0 {
				t.Error("no agent_restart_requested event")
			}
		}},
		{"another instance's sandbox is not found", func(t *testing.T) {
			for _, c := range []struct {
				method string
				in     map[string]any
			}{
				{methods.PauseSandbox, map[string]any{"sandboxId": other}},
				{methods.TerminateSandbox, map[string]any{"sandboxId": other}},
				{methods.RestartAgent, map[string]any{"sandboxId": other}},
				{methods.GetAgentLogs, map[string]any{"sandboxId": other}},
				{methods.ValidateSandboxToken, map[string]any{"sandboxId": other, "token": "x"}},
				{methods.PauseSandbox, map[string]any{"sandboxId": "sbx_doesnotexist"}},
			} {
				err := a.Call(c.method, c.in, nil)
				sandboxtest.WantErr(t, c.method+" "+c.in["sandboxId"].(string), err, methods.NotFound)
			}
			if s := b.SandboxState(); s != methods.SandboxRunning {
				t.Errorf("the other instance's sandbox is %q after the attempts, want running", s)
			}
		}},
		{"terminate, twice: the second is a no-op", func(t *testing.T) {
			for n := 0; n < 2; n++ {
				sandboxtest.Must[methods.OKOutput](t, a, methods.TerminateSandbox, map[string]any{"sandboxId": first})
			}
			if s := a.SandboxState(); s != methods.SandboxTerminated {
				t.Fatalf("sandbox state = %q, want terminated", s)
			}
			if n := len(a.Events("sandbox_terminated")); n != 1 {
				t.Errorf("%d sandbox_terminated events, want 1", n)
			}
			if sandboxtest.Exists(filepath.Join(e.NodeDir(), "sandboxes", first)) {
				t.Error("the terminated sandbox's directory is still on the node")
			}
			if p := sandboxtest.HostPids(e.NodeDir(), first); len(p) > 0 {
				t.Errorf("the terminated sandbox still has processes %v", p)
			}
		}},
		{"illegal transitions of a terminated sandbox are conflicts", func(t *testing.T) {
			for _, c := range []struct {
				method string
				in     map[string]any
			}{
				{methods.PauseSandbox, map[string]any{"sandboxId": first}},
				{methods.RestartAgent, map[string]any{"sandboxId": first}},
				{methods.ExecInSandbox, map[string]any{"command": "true"}},
				{methods.GetAgentLogs, map[string]any{"sandboxId": first}},
			} {
				err := a.Call(c.method, c.in, nil)
				ce := sandboxtest.WantErr(t, c.method+" on a terminated sandbox", err, methods.Conflict)
				if !strings.Contains(ce.Message, "terminated") && !strings.Contains(ce.Message, "no live sandbox") {
					t.Errorf("%s on a terminated sandbox: message %q does not say it is terminated", c.method, ce.Message)
				}
			}
			if n := len(a.Events("sandbox_error")); n != 0 {
				t.Errorf("calls on the terminated sandbox recorded %d sandbox_error events", n)
			}
		}},
		{"ensureSandbox after terminate starts a new sandbox", func(t *testing.T) {
			second = a.Ensure(t)
			if second == first {
				t.Fatalf("ensureSandbox gave the terminated sandbox %s again", first)
			}
			a.WaitStatus(t, methods.InstanceReady)
		}},
		{"instances.archive terminates the live sandbox", func(t *testing.T) {
			if _, err := e.Admin.ArchiveInstance(e.Ctx, a.ID); err != nil {
				t.Fatal(err)
			}
			if s := a.SandboxState(); s != methods.SandboxTerminated {
				t.Fatalf("sandbox state after archive = %q, want terminated", s)
			}
			evs := a.Events("sandbox_terminating")
			if len(evs) == 0 || evs[len(evs)-1].Detail != "instance archived" {
				t.Errorf("sandbox_terminating events %+v do not say the instance was archived", evs)
			}
			if p := sandboxtest.HostPids(e.NodeDir(), second); len(p) > 0 {
				t.Errorf("the archived instance's sandbox still has processes %v", p)
			}
			// The instance's token opens an archived instance no more.
			sandboxtest.WantErr(t, "ensureSandbox on an archived instance", a.Call(methods.EnsureSandbox, struct{}{}, nil), methods.Unauthorized)
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

// TestSandboxAgentReadiness: the instance is ready once its agent's health
// check passes, and never while it fails.
func TestSandboxAgentReadiness(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	cases := []struct {
		name      string
		flags     []string
		wantReady bool
	}{
		{"healthy agent", nil, true},
		{"unhealthy agent", []string{"-unhealthy"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slug := "ready-" + strconv.FormatBool(c.wantReady)
			e.Publish(slug, c.flags...)
			i := e.Instance(slug, "default", slug)
			if i.Status != methods.InstanceInitializing {
				t.Fatalf("instances.create status = %q, want initializing", i.Status)
			}
			if c.wantReady {
				i.WaitStatus(t, methods.InstanceReady)
				return
			}
			i.WaitSandbox(t, methods.SandboxRunning)
			// The agent is up and answers its health check with 503 ...
			testutil.Eventually(t, testutil.Medium, "the agent answering 503 on /health", func() bool {
				out := i.Exec(t, `exec 3<>/dev/tcp/127.0.0.1/7700 && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && head -n 1 <&3`)
				return strings.Contains(out.Stdout, " 503 ")
			})
			// ... and however long the supervisor polls it, the instance
			// stays initializing.
			for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
				if s := i.StatusNow().Status; s != methods.InstanceInitializing {
					t.Fatalf("instance status = %q with an unhealthy agent, want initializing", s)
				}
				i.Exec(t, "true") // paces the checks with work the sandbox does
			}
		})
	}
}

// TestSandboxAgentCrashRestarts: each exit of a crashing agent is a
// lifecycle event with its code, and the supervisor starts it again.
func TestSandboxAgentCrashRestarts(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	e.Publish("crashy", "-crash-after", "200ms", "-crash-code", "7")
	i := e.Instance("crashy", "default", "crashy")
	testutil.Eventually(t, testutil.Medium, "three agent starts and two exits", func() bool {
		return len(i.Events("agent_started")) >= 3 && len(i.Events("agent_exited")) >= 2
	})
	for _, ev := range i.Events("agent_exited") {
		if !strings.Contains(ev.Detail, "code 7") {
			t.Errorf("agent_exited detail %q does not give code 7", ev.Detail)
		}
	}
	if s := i.SandboxState(); s != methods.SandboxRunning {
		t.Errorf("sandbox state = %q while its agent restarts, want running", s)
	}
	id := i.StatusNow().Sandbox.E2BID
	testutil.Eventually(t, testutil.Short, "the crash in the agent's log", func() bool {
		out := sandboxtest.Must[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": id, "lines": 1000})
		return strings.Contains(out.Logs, "crashing with code 7") && strings.Contains(out.Logs, "restarting in")
	})
}

// TestSandboxAgentLogs: getAgentLogs returns the agent's last lines.
func TestSandboxAgentLogs(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	e.Publish("chatty", "-tick", "20ms")
	i := e.Instance("chatty", "default", "chatty")
	id := i.Ensure(t)
	testutil.Eventually(t, testutil.Medium, "30 ticks logged", func() bool {
		out := sandboxtest.Must[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": id, "lines": 10000})
		return strings.Contains(out.Logs, "tick 30\n")
	})
	cases := []struct {
		name          string
		lines         any // nil: not given
		wantErr       methods.ErrorType
		wantLines     int // exact count; 0: at least 30
		wantTruncated bool
	}{
		{"a few lines", 5, "", 5, true},
		{"one line", 1, "", 1, true},
		{"default", nil, "", 100, true},
		{"all of it", 10000, "", 0, false},
		{"zero", 0, methods.InvalidInput, 0, false},
		{"negative", -1, methods.InvalidInput, 0, false},
		{"too many", 10001, methods.InvalidInput, 0, false},
		{"not a number", "5", methods.InvalidInput, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := map[string]any{"sandboxId": id}
			if c.lines != nil {
				in["lines"] = c.lines
			}
			var out methods.GetAgentLogsOutput
			err := i.Call(methods.GetAgentLogs, in, &out)
			if c.wantErr != "" {
				sandboxtest.WantErr(t, "getAgentLogs", err, c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.Logs, "\n"), "\n")
			if c.name == "default" && len(lines) < 100 {
				// Fewer than 100 lines so far: then nothing was cut.
				c.wantLines, c.wantTruncated = len(lines), false
			}
			if c.wantLines > 0 && len(lines) != c.wantLines {
				t.Errorf("%d lines, want %d: %q", len(lines), c.wantLines, out.Logs)
			}
			if c.wantLines == 0 && (len(lines) < 30 || !strings.Contains(out.Logs, "test agent starting")) {
				t.Errorf("all the log has %d lines and no start line: %q", len(lines), out.Logs)
			}
			if out.Truncated != c.wantTruncated {
				t.Errorf("truncated = %v, want %v", out.Truncated, c.wantTruncated)
			}
			if !strings.Contains(lines[len(lines)-1], "tick ") {
				t.Errorf("last line %q is not the agent's", lines[len(lines)-1])
			}
		})
	}
}
