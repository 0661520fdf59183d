package platform_test

// End-to-end tests of sandboxes through the instance RPC, with real
// bubblewrap on the embedded node: the lifecycle (create, ensure, pause,
// resume, terminate, restartAgent), the instance's status as its agent
// comes up, crashes and restarts, and the agent's logs. The helpers shared
// by the sandbox tests (sb*) live here too.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// ---------------------------------------------------------------------------
// Helpers shared by the sandbox tests
// ---------------------------------------------------------------------------

// sbEnv is a platform with its embedded node running real sandboxes.
type sbEnv struct {
	t     testing.TB
	srv   *testutil.Server
	admin *client.Client
	key   string // the admin key, kept across restarts
	ctx   context.Context
}

// sbRequireBwrap fails (under CI=true) or skips when bubblewrap is missing.
func sbRequireBwrap(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		testutil.Require(t, "bubblewrap (bwrap)", "apt-get install bubblewrap")
	}
}

// sbDataDir makes a data dir that sandboxes' uids can reach, and makes
// sure that every sandbox started under it is gone when the test ends:
// sandboxes outlive their node on purpose.
func sbDataDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	_ = os.Chmod(filepath.Dir(dir), 0o711)
	_ = os.Chmod(dir, 0o711)
	// Registered after TempDir: runs before the directory is removed, and
	// after the servers the test starts later have stopped.
	t.Cleanup(func() { sbKillAll(filepath.Join(dir, "node")) })
	return dir
}

// sbStart starts a platform with the embedded node (never without it: a
// node without an executable would start the test binary as sandboxes)
// and waits for the node to be online.
func sbStart(t testing.TB, cfg platform.Config) *sbEnv {
	t.Helper()
	sbRequireBwrap(t)
	if cfg.DataDir == "" {
		cfg.DataDir = sbDataDir(t)
	}
	srv := testutil.StartServer(t, cfg, testutil.WithLocalNode(t))
	e := &sbEnv{t: t, srv: srv, key: srv.AdminKey, ctx: testutil.Context(t, testutil.Long)}
	e.admin = srv.Client(e.key)
	e.waitNodeOnline()
	return e
}

// restart stops the platform (and so its embedded node) and starts it
// again on the same data dir and port-less config.
func (e *sbEnv) restart(cfg platform.Config) {
	e.t.Helper()
	e.srv.Stop()
	cfg.DataDir = e.srv.DataDir
	e.srv = testutil.StartServer(e.t, cfg, testutil.WithLocalNode(e.t))
	e.admin = e.srv.Client(e.key)
	e.waitNodeOnline()
}

func (e *sbEnv) nodeDir() string { return filepath.Join(e.srv.DataDir, "node") }

func (e *sbEnv) waitNodeOnline() {
	e.t.Helper()
	testutil.Eventually(e.t, testutil.Medium, "the local node online", func() bool {
		l, err := e.admin.ListNodes(e.ctx)
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

// publish publishes the test agent, with flags, as the bundle slug.
func (e *sbEnv) publish(slug string, flags ...string) {
	e.t.Helper()
	testutil.PublishTestAgent(e.t, e.admin, slug, testutil.AgentManifest("1.0.0", flags...))
}

// sbInst is an instance and a client of its instance RPC.
type sbInst struct {
	e      *sbEnv
	id     string
	status string // what instances.create answered
	ic     *client.InstanceClient
}

// instance creates an instance (bundle may be empty) and an instance token.
func (e *sbEnv) instance(name, template, bundle string) *sbInst {
	e.t.Helper()
	out, err := e.admin.CreateInstance(e.ctx, methods.CreateInstanceInput{TemplateSlug: template, Name: name, BundleSlug: bundle})
	if err != nil {
		e.t.Fatalf("instances.create %s: %v", name, err)
	}
	ttl := 24 * 3600
	tok, err := e.admin.CreateToken(e.ctx, methods.CreateInstanceTokenInput{InstanceID: out.InstanceID, ExpiresIn: &ttl})
	if err != nil {
		e.t.Fatalf("tokens.create: %v", err)
	}
	return &sbInst{e: e, id: out.InstanceID, status: out.Status, ic: client.NewInstance(e.srv.URL, out.InstanceID, tok.Token, nil)}
}

// reconnect points the instance's client at the (restarted) server.
func (i *sbInst) reconnect() {
	ttl := 24 * 3600
	tok, err := i.e.admin.CreateToken(i.e.ctx, methods.CreateInstanceTokenInput{InstanceID: i.id, ExpiresIn: &ttl})
	if err != nil {
		i.e.t.Fatalf("tokens.create: %v", err)
	}
	i.ic = client.NewInstance(i.e.srv.URL, i.id, tok.Token, nil)
}

// call calls an instance method and decodes its value into out (may be nil).
func (i *sbInst) call(method string, in, out any) error {
	return i.ic.Call(i.e.ctx, method, in, out)
}

// must calls an instance method that must succeed.
func sbMust[Out any](t testing.TB, i *sbInst, method string, in any) Out {
	t.Helper()
	var out Out
	if err := i.call(method, in, &out); err != nil {
		t.Fatalf("%s %v: %v", method, in, err)
	}
	return out
}

// sbWantErr checks that err is a wire error of type want with a sentence
// for a message, and returns it.
func sbWantErr(t testing.TB, what string, err error, want methods.ErrorType) *client.Error {
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

func (i *sbInst) statusNow() *methods.GetInstanceStatusOutput {
	i.e.t.Helper()
	st, err := i.e.admin.InstanceStatus(i.e.ctx, i.id)
	if err != nil {
		i.e.t.Fatalf("instances.status: %v", err)
	}
	return st
}

// sandboxState is the sandbox's state as instances.status shows it.
func (i *sbInst) sandboxState() string {
	st, err := i.e.admin.InstanceStatus(i.e.ctx, i.id)
	if err != nil || st.Sandbox == nil {
		return ""
	}
	return st.Sandbox.State
}

// waitSandbox waits until instances.status shows the sandbox in state.
func (i *sbInst) waitSandbox(t testing.TB, state string) {
	t.Helper()
	defer i.dumpOnFailure(t)
	testutil.Eventually(t, testutil.Medium, "sandbox of "+i.id+" "+state, func() bool { return i.sandboxState() == state })
}

// waitStatus waits until the instance's status is want.
func (i *sbInst) waitStatus(t testing.TB, want string) {
	t.Helper()
	defer i.dumpOnFailure(t)
	testutil.Eventually(t, testutil.Medium, "instance "+i.id+" "+want, func() bool {
		st, err := i.e.admin.InstanceStatus(i.e.ctx, i.id)
		return err == nil && st.Status == want
	})
}

// dumpOnFailure logs the instance's status and history when the test has
// failed (deferred, it runs after a failed wait too).
func (i *sbInst) dumpOnFailure(t testing.TB) {
	if !t.Failed() {
		return
	}
	st, err := i.e.admin.InstanceStatus(context.Background(), i.id)
	if err != nil {
		t.Logf("instances.status %s: %v", i.id, err)
		return
	}
	t.Logf("instance %s is %s, sandbox %+v", i.id, st.Status, st.Sandbox)
	for _, ev := range st.LifecycleEvents {
		t.Logf("  %s %s: %s", ev.CreatedAt, ev.Event, ev.Detail)
	}
}

// ensure returns the live sandbox's id once it runs.
func (i *sbInst) ensure(t testing.TB) string {
	t.Helper()
	out := sbMust[methods.InstanceEnsureSandboxOutput](t, i, methods.EnsureSandbox, struct{}{})
	if out.SandboxID == "" {
		t.Fatal("ensureSandbox gave no sandboxId")
	}
	i.waitSandbox(t, methods.SandboxRunning)
	return out.SandboxID
}

// events returns the instance's lifecycle events named name.
func (i *sbInst) events(name string) []methods.LifecycleEvent {
	var out []methods.LifecycleEvent
	for _, e := range i.statusNow().LifecycleEvents {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// exec runs a command that must reach the sandbox (whatever its exit code).
func (i *sbInst) exec(t testing.TB, command string) methods.InstanceExecInSandboxOutputFull {
	t.Helper()
	return sbMust[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": command})
}

// sh runs a command that must succeed and returns its trimmed stdout.
func (i *sbInst) sh(t testing.TB, command string) string {
	t.Helper()
	out := i.exec(t, command)
	if !out.Success {
		t.Fatalf("exec %q: exit %d, stdout %q, stderr %q", command, out.ExitCode, out.Stdout, out.Stderr)
	}
	return strings.TrimSpace(out.Stdout)
}

// detach starts command (shell words) in the sandbox in a session of its
// own, so that it outlives the exec (whose end kills the exec's process
// group), and returns once it has left the exec's session: the file it
// writes first is written after setsid.
func (i *sbInst) detach(t testing.TB, command string) {
	t.Helper()
	i.sh(t, `rm -f /tmp/.detached; setsid -f sh -c 'echo $$ > /tmp/.detached; exec "$@"' sh `+command+
		` </dev/null >/dev/null 2>&1; until [ -s /tmp/.detached ]; do sleep 0.01; done`)
}

// sbPs lists the processes a sandbox sees, "PID ARGS" a line, from /proc
// (no procps needed inside).
const sbPs = `for p in /proc/[0-9]*; do a=$(tr '\0' ' ' < $p/cmdline 2>/dev/null) && printf '%s %s\n' "${p#/proc/}" "$a"; done`

// ---------------------------------------------------------------------------
// Looking at sandboxes from the host
// ---------------------------------------------------------------------------

// sbCgroupDirs are a sandbox's cgroup directories, v1 and v2.
func sbCgroupDirs(sandboxID string) []string {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "roost", sandboxID))
	if d := filepath.Join("/sys/fs/cgroup", "roost", sandboxID); sbExists(d) {
		dirs = append(dirs, d)
	}
	return dirs
}

func sbExists(p string) bool { _, err := os.Stat(p); return err == nil }

// sbStat is the part of /proc/PID/stat after the command: fields from the
// third (state) on.
func sbStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// sbDescendants lists pid and every process below it.
func sbDescendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := sbStat(p); len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	if pid <= 0 || !sbExists("/proc/"+strconv.Itoa(pid)) {
		return nil
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// sbHostPids lists the host pids of a sandbox's processes: what its cgroups
// hold and what descends from the process the node started.
func sbHostPids(nodeDir, sandboxID string) []int {
	seen := map[int]bool{}
	for _, d := range sbCgroupDirs(sandboxID) {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				seen[p] = true
			}
		}
	}
	b, _ := os.ReadFile(filepath.Join(nodeDir, "sandboxes", sandboxID, "pid"))
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		for _, p := range sbDescendants(pid) {
			seen[p] = true
		}
	}
	out := make([]int, 0, len(seen))
	for p := range seen {
		if sbExists("/proc/" + strconv.Itoa(p)) {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// sbCmdline is a process's arguments joined by spaces.
func sbCmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// sbUids are the real, effective, saved and filesystem uids of a process.
func sbUids(pid int) []int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			var out []int
			for _, f := range strings.Fields(rest) {
				v, _ := strconv.Atoi(f)
				out = append(out, v)
			}
			return out
		}
	}
	return nil
}

// sbFindProc finds the host pid of a sandbox's process whose arguments
// contain s.
func sbFindProc(nodeDir, sandboxID, s string) int {
	for _, p := range sbHostPids(nodeDir, sandboxID) {
		if strings.Contains(sbCmdline(p), s) {
			return p
		}
	}
	return 0
}

// sbCPUTicks is a process's user plus system CPU time, in clock ticks.
func sbCPUTicks(pid int) int64 {
	f := sbStat(pid)
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// sbKillAll ends every process of every sandbox under a node's data dir
// and removes their cgroups. Only the sandboxes of that dir: other tests'
// sandboxes on this machine are left alone.
func sbKillAll(nodeDir string) {
	entries, _ := os.ReadDir(filepath.Join(nodeDir, "sandboxes"))
	for _, ent := range entries {
		id := ent.Name()
		if !strings.HasPrefix(id, "sbx_") {
			continue
		}
		sbKillOne(nodeDir, id)
		for _, d := range sbCgroupDirs(id) {
			// A cgroup can be removed once the kernel has seen its last
			// process go. A cleanup, so a cgroup that stays is no failure.
			testutil.Until(testutil.Short, func() bool { return os.Remove(d) == nil || !sbExists(d) })
		}
	}
}

// sbKillOne kills every process of one sandbox, leaving its directory.
func sbKillOne(nodeDir, id string) {
	for _, d := range sbCgroupDirs(id) {
		_ = os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0)
		_ = os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0)
	}
	// Kill until none is left: a process may fork while the others die.
	testutil.Until(testutil.Short, func() bool {
		pids := sbHostPids(nodeDir, id)
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGCONT)
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		return len(pids) == 0
	})
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

func TestSandboxLifecycle(t *testing.T) {
	e := sbStart(t, platform.Config{})
	e.publish("life", "-tick", "500ms")
	a := e.instance("life-a", "default", "life")
	b := e.instance("life-b", "default", "")
	var first, second, other string

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"instances.create schedules the sandbox: initializing, then ready when the agent is healthy", func(t *testing.T) {
			if a.status != methods.InstanceInitializing {
				t.Fatalf("instances.create status = %q, want initializing", a.status)
			}
			a.waitStatus(t, methods.InstanceReady)
			st := a.statusNow()
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
			run := a.events("sandbox_running")
			if len(run) == 0 || !strings.Contains(run[0].Detail, "isolation bubblewrap") {
				t.Errorf("sandbox_running events %+v do not say the isolation", run)
			}
			other = b.ensure(t)
			b.waitStatus(t, methods.InstanceReady) // no bundle: ready once running
		}},
		{"ensureSandbox gives the live sandbox, the same twice", func(t *testing.T) {
			one := sbMust[methods.InstanceEnsureSandboxOutput](t, a, methods.EnsureSandbox, struct{}{})
			two := sbMust[methods.InstanceEnsureSandboxOutput](t, a, methods.EnsureSandbox, map[string]any{})
			if one.SandboxID == "" || one.SandboxID != two.SandboxID {
				t.Fatalf("ensureSandbox twice = %q then %q, want the same id", one.SandboxID, two.SandboxID)
			}
			if one.State != methods.SandboxRunning {
				t.Errorf("ensureSandbox state = %q, want running", one.State)
			}
			if got := a.statusNow().Sandbox.E2BID; got != one.SandboxID {
				t.Errorf("instances.status sandbox id = %q, want %q", got, one.SandboxID)
			}
			first = one.SandboxID
		}},
		{"createSandbox while one is live is a conflict", func(t *testing.T) {
			err := a.call(methods.CreateSandbox, struct{}{}, nil)
			sbWantErr(t, "createSandbox", err, methods.Conflict)
		}},
		{"validateSandboxToken knows the sandbox's own token", func(t *testing.T) {
			tok := a.sh(t, "printf %s \"$ROOST_SANDBOX_TOKEN\"")
			for _, c := range []struct {
				token string
				want  bool
			}{{tok, true}, {tok + "x", false}, {"rst_nope", false}} {
				out := sbMust[methods.InstanceValidateSandboxTokenOutput](t, a, methods.ValidateSandboxToken, map[string]any{"sandboxId": first, "token": c.token})
				if out.Value != c.want {
					t.Errorf("validateSandboxToken(%.10q...) = %v, want %v", c.token, out.Value, c.want)
				}
			}
		}},
		{"pause, twice: the second is a no-op", func(t *testing.T) {
			for n := 0; n < 2; n++ {
				sbMust[methods.OKOutput](t, a, methods.PauseSandbox, map[string]any{"sandboxId": first})
			}
			if s := a.sandboxState(); s != methods.SandboxPaused {
				t.Fatalf("sandbox state = %q, want paused", s)
			}
			if n := len(a.events("sandbox_paused")); n != 1 {
				t.Errorf("%d sandbox_paused events, want 1", n)
			}
			err := a.call(methods.ExecInSandbox, map[string]any{"command": "true"}, nil)
			ce := sbWantErr(t, "exec on a paused sandbox", err, methods.Conflict)
			if !strings.Contains(ce.Message, "paused") || !strings.Contains(ce.Message, "resumeSandbox") {
				t.Errorf("exec on a paused sandbox: message %q does not say what to do", ce.Message)
			}
		}},
		{"resume, twice: running again", func(t *testing.T) {
			for n := 0; n < 2; n++ {
				sbMust[methods.OKOutput](t, a, methods.ResumeSandbox, struct{}{})
			}
			if s := a.sandboxState(); s != methods.SandboxRunning {
				t.Fatalf("sandbox state = %q, want running", s)
			}
			if got := a.sh(t, "echo alive"); got != "alive" {
				t.Errorf("exec after resume = %q", got)
			}
		}},
		{"restartAgent starts the agent again", func(t *testing.T) {
			before := len(a.events("agent_started"))
			sbMust[methods.OKOutput](t, a, methods.RestartAgent, map[string]any{"sandboxId": first})
			testutil.Eventually(t, testutil.Medium, "another agent_started event", func() bool {
				return len(a.events("agent_started")) > before
			})
			if len(a.events("agent_restart_requested")) == 0 {
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
				err := a.call(c.method, c.in, nil)
				sbWantErr(t, c.method+" "+c.in["sandboxId"].(string), err, methods.NotFound)
			}
			if s := b.sandboxState(); s != methods.SandboxRunning {
				t.Errorf("the other instance's sandbox is %q after the attempts, want running", s)
			}
		}},
		{"terminate, twice: the second is a no-op", func(t *testing.T) {
			for n := 0; n < 2; n++ {
				sbMust[methods.OKOutput](t, a, methods.TerminateSandbox, map[string]any{"sandboxId": first})
			}
			if s := a.sandboxState(); s != methods.SandboxTerminated {
				t.Fatalf("sandbox state = %q, want terminated", s)
			}
			if n := len(a.events("sandbox_terminated")); n != 1 {
				t.Errorf("%d sandbox_terminated events, want 1", n)
			}
			if sbExists(filepath.Join(e.nodeDir(), "sandboxes", first)) {
				t.Error("the terminated sandbox's directory is still on the node")
			}
			if p := sbHostPids(e.nodeDir(), first); len(p) > 0 {
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
				err := a.call(c.method, c.in, nil)
				ce := sbWantErr(t, c.method+" on a terminated sandbox", err, methods.Conflict)
				if !strings.Contains(ce.Message, "terminated") && !strings.Contains(ce.Message, "no live sandbox") {
					t.Errorf("%s on a terminated sandbox: message %q does not say it is terminated", c.method, ce.Message)
				}
			}
			if n := len(a.events("sandbox_error")); n != 0 {
				t.Errorf("calls on the terminated sandbox recorded %d sandbox_error events", n)
			}
		}},
		{"ensureSandbox after terminate starts a new sandbox", func(t *testing.T) {
			second = a.ensure(t)
			if second == first {
				t.Fatalf("ensureSandbox gave the terminated sandbox %s again", first)
			}
			a.waitStatus(t, methods.InstanceReady)
		}},
		{"instances.archive terminates the live sandbox", func(t *testing.T) {
			if _, err := e.admin.ArchiveInstance(e.ctx, a.id); err != nil {
				t.Fatal(err)
			}
			if s := a.sandboxState(); s != methods.SandboxTerminated {
				t.Fatalf("sandbox state after archive = %q, want terminated", s)
			}
			evs := a.events("sandbox_terminating")
			if len(evs) == 0 || evs[len(evs)-1].Detail != "instance archived" {
				t.Errorf("sandbox_terminating events %+v do not say the instance was archived", evs)
			}
			if p := sbHostPids(e.nodeDir(), second); len(p) > 0 {
				t.Errorf("the archived instance's sandbox still has processes %v", p)
			}
			// The instance's token opens an archived instance no more.
			sbWantErr(t, "ensureSandbox on an archived instance", a.call(methods.EnsureSandbox, struct{}{}, nil), methods.Unauthorized)
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
	e := sbStart(t, platform.Config{})
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
			e.publish(slug, c.flags...)
			i := e.instance(slug, "default", slug)
			if i.status != methods.InstanceInitializing {
				t.Fatalf("instances.create status = %q, want initializing", i.status)
			}
			if c.wantReady {
				i.waitStatus(t, methods.InstanceReady)
				return
			}
			i.waitSandbox(t, methods.SandboxRunning)
			// The agent is up and answers its health check with 503 ...
			testutil.Eventually(t, testutil.Medium, "the agent answering 503 on /health", func() bool {
				out := i.exec(t, `exec 3<>/dev/tcp/127.0.0.1/7700 && printf 'GET /health HTTP/1.0\r\n\r\n' >&3 && head -n 1 <&3`)
				return strings.Contains(out.Stdout, " 503 ")
			})
			// ... and however long the supervisor polls it, the instance
			// stays initializing.
			for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
				if s := i.statusNow().Status; s != methods.InstanceInitializing {
					t.Fatalf("instance status = %q with an unhealthy agent, want initializing", s)
				}
				i.exec(t, "true") // paces the checks with work the sandbox does
			}
		})
	}
}

// TestSandboxAgentCrashRestarts: each exit of a crashing agent is a
// lifecycle event with its code, and the supervisor starts it again.
func TestSandboxAgentCrashRestarts(t *testing.T) {
	e := sbStart(t, platform.Config{})
	e.publish("crashy", "-crash-after", "200ms", "-crash-code", "7")
	i := e.instance("crashy", "default", "crashy")
	testutil.Eventually(t, testutil.Medium, "three agent starts and two exits", func() bool {
		return len(i.events("agent_started")) >= 3 && len(i.events("agent_exited")) >= 2
	})
	for _, ev := range i.events("agent_exited") {
		if !strings.Contains(ev.Detail, "code 7") {
			t.Errorf("agent_exited detail %q does not give code 7", ev.Detail)
		}
	}
	if s := i.sandboxState(); s != methods.SandboxRunning {
		t.Errorf("sandbox state = %q while its agent restarts, want running", s)
	}
	id := i.statusNow().Sandbox.E2BID
	testutil.Eventually(t, testutil.Short, "the crash in the agent's log", func() bool {
		out := sbMust[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": id, "lines": 1000})
		return strings.Contains(out.Logs, "crashing with code 7") && strings.Contains(out.Logs, "restarting in")
	})
}

// TestSandboxAgentLogs: getAgentLogs returns the agent's last lines.
func TestSandboxAgentLogs(t *testing.T) {
	e := sbStart(t, platform.Config{})
	e.publish("chatty", "-tick", "20ms")
	i := e.instance("chatty", "default", "chatty")
	id := i.ensure(t)
	testutil.Eventually(t, testutil.Medium, "30 ticks logged", func() bool {
		out := sbMust[methods.GetAgentLogsOutput](t, i, methods.GetAgentLogs, map[string]any{"sandboxId": id, "lines": 10000})
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
			err := i.call(methods.GetAgentLogs, in, &out)
			if c.wantErr != "" {
				sbWantErr(t, "getAgentLogs", err, c.wantErr)
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
