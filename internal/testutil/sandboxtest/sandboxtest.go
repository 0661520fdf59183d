// Package sandboxtest holds what the end-to-end tests of sandboxes share, and
// the tests of sessions, services and publishing and the benchmarks built on
// them: a platform whose embedded node runs real bubblewrap sandboxes
// (Start), instances with a client of their instance RPC, waits for a
// sandbox or an instance to reach a state, and a look at sandboxes from the
// host (their processes, uids, cgroups), down to killing what a test left
// behind. It exists so that those tests, in the packages of what they test,
// share one copy of these helpers.
package sandboxtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// Env is a platform with its embedded node running real sandboxes.
type Env struct {
	T     testing.TB       // the test that started it
	Srv   *testutil.Server // the platform; Restart replaces it
	Admin *client.Client   // a client with the admin key
	Key   string           // the admin key, kept across restarts
	Ctx   context.Context  // bounds every call of the helpers (testutil.Long)
}

// RequireBwrap fails (under CI=true) or skips when bubblewrap is missing.
func RequireBwrap(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		testutil.Require(t, "bubblewrap (bwrap)", "apt-get install bubblewrap")
	}
}

// DataDir makes a data dir that sandboxes' uids can reach, and makes
// sure that every sandbox started under it is gone when the test ends:
// sandboxes outlive their node on purpose.
func DataDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	_ = os.Chmod(filepath.Dir(dir), 0o711)
	_ = os.Chmod(dir, 0o711)
	// Registered after TempDir: runs before the directory is removed, and
	// after the servers the test starts later have stopped.
	t.Cleanup(func() { KillAll(filepath.Join(dir, "node")) })
	return dir
}

// Start starts a platform with the embedded node (never without it: a
// node without an executable would start the test binary as sandboxes)
// and waits for the node to be online.
func Start(t testing.TB, cfg platform.Config) *Env {
	t.Helper()
	RequireBwrap(t)
	if cfg.DataDir == "" {
		cfg.DataDir = DataDir(t)
	}
	srv := testutil.StartServer(t, cfg, testutil.WithLocalNode(t))
	e := &Env{T: t, Srv: srv, Key: srv.AdminKey, Ctx: testutil.Context(t, testutil.Long)}
	e.Admin = srv.Client(e.Key)
	e.waitNodeOnline()
	return e
}

// Restart stops the platform (and so its embedded node) and starts it
// again on the same data dir and port-less config.
func (e *Env) Restart(cfg platform.Config) {
	e.T.Helper()
	e.Srv.Stop()
	cfg.DataDir = e.Srv.DataDir
	e.Srv = testutil.StartServer(e.T, cfg, testutil.WithLocalNode(e.T))
	e.Admin = e.Srv.Client(e.Key)
	e.waitNodeOnline()
}

// NodeDir is the data dir of the embedded node, where its sandboxes live.
func (e *Env) NodeDir() string { return filepath.Join(e.Srv.DataDir, "node") }

func (e *Env) waitNodeOnline() {
	e.T.Helper()
	WaitLocalNode(e.T, e.Ctx, e.Admin)
}

// WaitLocalNode waits until the platform c talks to has its embedded node
// ("local") online: an instance made before that gets no sandbox.
func WaitLocalNode(t testing.TB, ctx context.Context, c *client.Client) {
	t.Helper()
	testutil.Eventually(t, testutil.Medium, "the local node online", func() bool {
		l, err := c.ListNodes(ctx)
		if err != nil {
			return false
		}
		for _, n := range l.Nodes {
			if n.Name == "local" && n.Status == methods.NodeOnline {
				return true
			}
		}
		return false
	})
}

// Publish publishes the test agent, with flags, as the bundle slug.
func (e *Env) Publish(slug string, flags ...string) {
	e.T.Helper()
	testutil.PublishTestAgent(e.T, e.Admin, slug, testutil.AgentManifest("1.0.0", flags...))
}

// Inst is an instance and a client of its instance RPC.
type Inst struct {
	Env    *Env
	ID     string
	Status string                 // what instances.create answered
	Client *client.InstanceClient // with an instance token of a day
}

// Instance creates an instance (bundle may be empty) and an instance token.
func (e *Env) Instance(name, template, bundle string) *Inst {
	e.T.Helper()
	out, err := e.Admin.CreateInstance(e.Ctx, methods.CreateInstanceInput{TemplateSlug: template, Name: name, BundleSlug: bundle})
	if err != nil {
		e.T.Fatalf("instances.create %s: %v", name, err)
	}
	ttl := 24 * 3600
	tok, err := e.Admin.CreateToken(e.Ctx, methods.CreateInstanceTokenInput{InstanceID: out.InstanceID, ExpiresIn: &ttl})
	if err != nil {
		e.T.Fatalf("tokens.create: %v", err)
	}
	return &Inst{Env: e, ID: out.InstanceID, Status: out.Status, Client: client.NewInstance(e.Srv.URL, out.InstanceID, tok.Token, nil)}
}

// Reconnect points the instance's client at the (restarted) server.
func (i *Inst) Reconnect() {
	ttl := 24 * 3600
	tok, err := i.Env.Admin.CreateToken(i.Env.Ctx, methods.CreateInstanceTokenInput{InstanceID: i.ID, ExpiresIn: &ttl})
	if err != nil {
		i.Env.T.Fatalf("tokens.create: %v", err)
	}
	i.Client = client.NewInstance(i.Env.Srv.URL, i.ID, tok.Token, nil)
}

// Call calls an instance method and decodes its value into out (may be nil).
func (i *Inst) Call(method string, in, out any) error {
	return i.Client.Call(i.Env.Ctx, method, in, out)
}

// Must calls an instance method that must succeed and returns its value.
func Must[Out any](t testing.TB, i *Inst, method string, in any) Out {
	t.Helper()
	var out Out
	if err := i.Call(method, in, &out); err != nil {
		t.Fatalf("%s %v: %v", method, in, err)
	}
	return out
}

// WantErr checks that err is a wire error of type want with a sentence
// for a message, and returns it.
func WantErr(t testing.TB, what string, err error, want methods.ErrorType) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%s: got %v, want a %s error", what, err, want)
	}
	if ce.Type != want {
		t.Fatalf("%s: got %s (%q), want %s", what, ce.Type, ce.Message, want)
	}
	if m := strings.TrimSpace(ce.Message); m == "" || !strings.HasSuffix(m, ".") || strings.ToUpper(m[:1]) != m[:1] {
		t.Errorf("%s: message %q is not a sentence", what, ce.Message)
	}
	return ce
}

// StatusNow is the instance's status from instances.status, which must
// answer.
func (i *Inst) StatusNow() *methods.GetInstanceStatusOutput {
	i.Env.T.Helper()
	st, err := i.Env.Admin.InstanceStatus(i.Env.Ctx, i.ID)
	if err != nil {
		i.Env.T.Fatalf("instances.status: %v", err)
	}
	return st
}

// SandboxState is the sandbox's state as instances.status shows it.
func (i *Inst) SandboxState() string {
	st, err := i.Env.Admin.InstanceStatus(i.Env.Ctx, i.ID)
	if err != nil || st.Sandbox == nil {
		return ""
	}
	return st.Sandbox.State
}

// WaitSandbox waits until instances.status shows the sandbox in state.
func (i *Inst) WaitSandbox(t testing.TB, state string) {
	t.Helper()
	defer i.dumpOnFailure(t)
	testutil.Eventually(t, testutil.Medium, "sandbox of "+i.ID+" "+state, func() bool { return i.SandboxState() == state })
}

// WaitStatus waits until the instance's status is want.
func (i *Inst) WaitStatus(t testing.TB, want string) {
	t.Helper()
	defer i.dumpOnFailure(t)
	testutil.Eventually(t, testutil.Medium, "instance "+i.ID+" "+want, func() bool {
		st, err := i.Env.Admin.InstanceStatus(i.Env.Ctx, i.ID)
		return err == nil && st.Status == want
	})
}

// dumpOnFailure logs the instance's status and history when the test has
// failed (deferred, it runs after a failed wait too).
func (i *Inst) dumpOnFailure(t testing.TB) {
	if !t.Failed() {
		return
	}
	st, err := i.Env.Admin.InstanceStatus(context.Background(), i.ID)
	if err != nil {
		t.Logf("instances.status %s: %v", i.ID, err)
		return
	}
	t.Logf("instance %s is %s, sandbox %+v", i.ID, st.Status, st.Sandbox)
	for _, ev := range st.LifecycleEvents {
		t.Logf("  %s %s: %s", ev.CreatedAt, ev.Event, ev.Detail)
	}
}

// Ensure returns the live sandbox's id once it runs.
func (i *Inst) Ensure(t testing.TB) string {
	t.Helper()
	out := Must[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, struct{}{})
	if out.SandboxID == "" {
		t.Fatal("ensureSandbox gave no sandboxId")
	}
	i.WaitSandbox(t, methods.SandboxRunning)
	return out.SandboxID
}

// Events returns the instance's lifecycle events named name.
func (i *Inst) Events(name string) []methods.LifecycleEvent {
	var out []methods.LifecycleEvent
	for _, e := range i.StatusNow().LifecycleEvents {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// Exec runs a command that must reach the sandbox (whatever its exit code).
func (i *Inst) Exec(t testing.TB, command string) methods.InstanceExecInSandboxOutputFull {
	t.Helper()
	return Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": command})
}

// Sh runs a command that must succeed and returns its trimmed stdout.
func (i *Inst) Sh(t testing.TB, command string) string {
	t.Helper()
	out := i.Exec(t, command)
	if !out.Success {
		t.Fatalf("exec %q: exit %d, stdout %q, stderr %q", command, out.ExitCode, out.Stdout, out.Stderr)
	}
	return strings.TrimSpace(out.Stdout)
}

// Detach starts command (shell words) in the sandbox in a session of its
// own, so that it outlives the exec (whose end kills the exec's process
// group), and returns once it has left the exec's session: the file it
// writes first is written after setsid.
func (i *Inst) Detach(t testing.TB, command string) {
	t.Helper()
	i.Sh(t, `rm -f /tmp/.detached; setsid -f sh -c 'echo $$ > /tmp/.detached; exec "$@"' sh `+command+
		` </dev/null >/dev/null 2>&1; until [ -s /tmp/.detached ]; do sleep 0.01; done`)
}

// Ps lists the processes a sandbox sees, "PID ARGS" a line, from /proc
// (no procps needed inside).
const Ps = `for p in /proc/[0-9]*; do a=$(tr '\0' ' ' < $p/cmdline 2>/dev/null) && printf '%s %s\n' "${p#/proc/}" "$a"; done`
