package sandbox_test

// End-to-end tests of what a sandbox can and cannot reach, with real
// bubblewrap: no capabilities, an unprivileged uid inside and on the host,
// no view of another sandbox's files or processes nor of the host's
// secrets and data dirs, the network policy of its template, a private
// /tmp, a workspace that outlives the agent; a paused sandbox uses no CPU;
// template limits hold where the machine enforces them.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// sbTemplates writes templates (slug → fields) as JSON files into a new
// directory and returns it, for Config.TemplatesDir.
func sbTemplates(t testing.TB, templates map[string]map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	for slug, fields := range templates {
		fields["slug"] = slug
		b, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, slug+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSandboxIsolation(t *testing.T) {
	tpl := sbTemplates(t, map[string]map[string]any{
		"open":  {"name": "Open", "network": "full"},
		"plain": {"name": "Plain", "isolation": "none"},
	})
	e := sandboxtest.Start(t, platform.Config{TemplatesDir: tpl})
	e.Publish("iso", "-tick", "1s")
	a := e.Instance("iso-a", "default", "iso")
	b := e.Instance("iso-b", "default", "iso")
	// No agent in the open sandbox: with the host's network its agent
	// would take the host's port 7700.
	open := e.Instance("iso-open", "open", "")
	idA, idB := a.Ensure(t), b.Ensure(t)
	open.Ensure(t)
	a.WaitStatus(t, methods.InstanceReady)
	b.WaitStatus(t, methods.InstanceReady)
	u, err := url.Parse(e.Srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	sandboxDirA := filepath.Join(e.NodeDir(), "sandboxes", idA)

	// Things each sandbox must not see: a command that must fail in it.
	hidden := []struct {
		name, command string
	}{
		{"the host's /etc/shadow", "ls -l /etc/shadow"},
		{"the host's /etc/gshadow", "ls -l /etc/gshadow"},
		{"the host's /etc/sudoers", "ls -l /etc/sudoers"},
		{"the host's /root", "ls /root"},
		{"the host's /home", "ls /home"},
		{"the platform's data dir", "ls " + e.Srv.DataDir},
		{"the platform's database", "ls -l " + platform.DBPath(e.Srv.DataDir)},
		{"the platform's signing key", "ls -l " + platform.TokenKeyPath(e.Srv.DataDir)},
		{"the node's data dir", "ls " + e.NodeDir()},
		{"the node's credential", "cat " + filepath.Join(e.NodeDir(), "node.json")},
		{"another sandbox's directory on the host", "ls " + sandboxDirA},
		{"another sandbox's workspace on the host", "ls " + filepath.Join(sandboxDirA, "workspace")},
		{"the platform's port (network none)", "echo > /dev/tcp/127.0.0.1/" + port},
		{"the outside world (network none)", "echo > /dev/tcp/1.1.1.1/53"},
		{"a write to /usr", "touch /usr/roost-was-here"},
		{"a write to the bundle", "touch /agent/roost-was-here"},
	}
	for _, h := range hidden {
		t.Run("cannot reach "+h.name, func(t *testing.T) {
			for _, i := range []*sandboxtest.Inst{a, b} {
				if o := i.Exec(t, h.command); o.Success {
					t.Errorf("%s: %q succeeded: %q", i.ID, h.command, o.Stdout)
				}
			}
		})
	}

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"no capabilities, no new privileges", func(t *testing.T) {
			out := a.Sh(t, "grep -E '^(CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):' /proc/self/status")
			for _, want := range []string{"CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"} {
				if !strings.Contains(out, want) {
					t.Errorf("/proc/self/status has no %q:\n%s", want, out)
				}
			}
		}},
		{"uid 1000 inside, its own hostname", func(t *testing.T) {
			if got := a.Sh(t, "id -u; id -g; id -un; hostname"); got != "1000\n1000\nroost\nsandbox" {
				t.Errorf("id and hostname inside = %q", got)
			}
		}},
		{"no process of the sandbox is root on the host", func(t *testing.T) {
			pids := sandboxtest.HostPids(e.NodeDir(), idA)
			var sawInit, sawAgent bool
			for _, p := range pids {
				args := sandboxtest.Cmdline(p)
				sawInit = sawInit || strings.Contains(args, "sandbox-init")
				sawAgent = sawAgent || strings.HasPrefix(args, "./agent")
				for k, uid := range sandboxtest.Uids(p) {
					if uid == 0 {
						t.Errorf("host pid %d (%s) has uid field %d = 0", p, args, k)
					}
				}
			}
			if !sawInit || !sawAgent {
				t.Errorf("the host pids %v of the sandbox show no sandbox-init or no agent", pids)
			}
			uidA, uidB := sandboxtest.Uids(sandboxtest.FindProc(e.NodeDir(), idA, "sandbox-init")), sandboxtest.Uids(sandboxtest.FindProc(e.NodeDir(), idB, "sandbox-init"))
			if len(uidA) == 0 || len(uidB) == 0 || uidA[0] == uidB[0] {
				t.Errorf("two sandboxes run as host uids %v and %v, want two different ones", uidA, uidB)
			}
		}},
		{"a sandbox cannot see another's files", func(t *testing.T) {
			a.Sh(t, "echo secret-a > /workspace/secret.txt")
			if got := a.Sh(t, "cat /workspace/secret.txt"); got != "secret-a" {
				t.Fatalf("own file = %q", got)
			}
			if o := b.Exec(t, "cat /workspace/secret.txt"); o.Success {
				t.Errorf("sandbox b read a's file: %q", o.Stdout)
			}
			find := `find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name secret.txt -print 2>/dev/null`
			o := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, b, methods.ExecInSandbox, map[string]any{"command": find, "timeoutMs": 60000})
			if o.TimedOut || strings.TrimSpace(o.Stdout) != "" {
				t.Errorf("sandbox b looking for a's file: timedOut %v, found %q", o.TimedOut, o.Stdout)
			}
		}},
		{"a sandbox cannot see another's processes", func(t *testing.T) {
			b.Detach(t, "sleep 987654")
			if got := b.Sh(t, sandboxtest.Ps); !strings.Contains(got, "sleep 987654") {
				t.Fatalf("sandbox b does not see its own sleep:\n%s", got)
			}
			got := a.Sh(t, sandboxtest.Ps)
			if strings.Contains(got, "987654") {
				t.Errorf("sandbox a sees b's process:\n%s", got)
			}
			if n := strings.Count(got, "sandbox-init"); n != 1 {
				t.Errorf("sandbox a sees %d supervisors, want its own only:\n%s", n, got)
			}
			if n := strings.Count(got, "./agent"); n != 1 {
				t.Errorf("sandbox a sees %d agents, want its own only:\n%s", n, got)
			}
			pid1 := false
			for _, line := range strings.Split(got, "\n") {
				pid1 = pid1 || strings.HasPrefix(line, "1 ") && strings.Contains(line, "sandbox-init")
			}
			if !pid1 {
				t.Errorf("pid 1 of sandbox a is not its supervisor:\n%s", got)
			}
		}},
		{"/tmp is private", func(t *testing.T) {
			a.Sh(t, "echo mine > /tmp/private.txt")
			if got := a.Sh(t, "cat /tmp/private.txt"); got != "mine" {
				t.Fatalf("own /tmp file = %q", got)
			}
			if o := b.Exec(t, "ls /tmp/private.txt"); o.Success {
				t.Error("sandbox b sees a's /tmp file")
			}
			if sandboxtest.Exists("/tmp/private.txt") {
				t.Error("the sandbox's /tmp file is in the host's /tmp")
			}
		}},
		{"/workspace survives restartAgent; /tmp is the sandbox's, not the agent's", func(t *testing.T) {
			a.Sh(t, "echo kept > /workspace/kept.txt")
			before := len(a.Events("agent_started"))
			sandboxtest.Must[methods.OKOutput](t, a, methods.RestartAgent, map[string]any{"sandboxId": idA})
			testutil.Eventually(t, testutil.Medium, "the agent started again", func() bool {
				return len(a.Events("agent_started")) > before
			})
			if got := a.Sh(t, "cat /workspace/kept.txt /tmp/private.txt"); got != "kept\nmine" {
				t.Errorf("after restartAgent: %q", got)
			}
		}},
		{"network full reaches the platform's port", func(t *testing.T) {
			if o := open.Exec(t, "echo > /dev/tcp/127.0.0.1/"+port); !o.Success {
				t.Errorf("a network-full sandbox cannot reach 127.0.0.1:%s: %q", port, o.Stderr)
			}
			// Still no capabilities, still not the host's files.
			if got := open.Sh(t, "grep CapEff /proc/self/status; ls /etc/shadow 2>&1 || echo hidden"); !strings.Contains(got, "0000000000000000") || !strings.HasSuffix(got, "hidden") {
				t.Errorf("network-full sandbox: %q", got)
			}
		}},
		{"writes outside /workspace stay in the sandbox", func(t *testing.T) {
			// The root is the sandbox's own tmpfs: a file made in its /etc
			// is not in the host's.
			a.Exec(t, "touch /etc/roost-was-here /roost-was-here")
			for _, p := range []string{"/etc/roost-was-here", "/roost-was-here"} {
				if sandboxtest.Exists(p) {
					t.Errorf("a write inside the sandbox made %s on the host", p)
					_ = os.Remove(p)
				}
			}
		}},
		{"network none has loopback only", func(t *testing.T) {
			got := a.Sh(t, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
			if got != "lo" {
				t.Errorf("interfaces in a network-none sandbox: %q, want lo only", got)
			}
		}},
		{"isolation none is reported as such", func(t *testing.T) {
			p := e.Instance("iso-plain", "plain", "")
			p.Ensure(t)
			run := p.Events("sandbox_running")
			if len(run) == 0 || !strings.Contains(run[0].Detail, "isolation none") {
				t.Errorf("sandbox_running events %+v do not say isolation none", run)
			}
			if got := p.Sh(t, "pwd"); !strings.HasSuffix(got, "/workspace") {
				t.Errorf("pwd = %q", got)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// TestSandboxUidPerSandbox: sandboxes started at the same time still each
// run as a host uid of their own.
func TestSandboxUidPerSandbox(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	const n = 12
	insts := make([]*sandboxtest.Inst, n)
	for k := range insts {
		insts[k] = e.Instance(fmt.Sprintf("uid-%d", k), "default", "")
		insts[k].WaitSandbox(t, methods.SandboxRunning)
		sandboxtest.Must[methods.OKOutput](t, insts[k], methods.TerminateSandbox, map[string]any{"sandboxId": insts[k].StatusNow().Sandbox.E2BID})
	}
	// All at once.
	var wg sync.WaitGroup
	for _, i := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := i.Call(methods.EnsureSandbox, struct{}{}, nil); err != nil {
				t.Errorf("ensureSandbox: %v", err)
			}
		}()
	}
	wg.Wait()
	owner := map[int]string{}
	for _, i := range insts {
		i.WaitSandbox(t, methods.SandboxRunning)
		id := i.StatusNow().Sandbox.E2BID
		uids := sandboxtest.Uids(sandboxtest.FindProc(e.NodeDir(), id, "sandbox-init"))
		if len(uids) == 0 || uids[0] == 0 {
			t.Fatalf("sandbox %s: supervisor uids %v", id, uids)
		}
		if other, dup := owner[uids[0]]; dup {
			t.Errorf("sandboxes %s and %s both run as host uid %d", other, id, uids[0])
		}
		owner[uids[0]] = id
	}
}

// TestSandboxPausedUsesNoCPU: a busy loop in a paused sandbox gets no CPU
// time until the sandbox is resumed.
func TestSandboxPausedUsesNoCPU(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("busy", "default", "")
	id := i.Ensure(t)
	i.Detach(t, "sh -c 'while :; do :; done'")
	var pid int
	testutil.Eventually(t, testutil.Short, "the busy loop on the host", func() bool {
		pid = sandboxtest.FindProc(e.NodeDir(), id, "while :; do :; done")
		return pid > 0
	})
	start := sandboxtest.CPUTicks(pid)
	testutil.Eventually(t, testutil.Short, "the busy loop using CPU", func() bool { return sandboxtest.CPUTicks(pid) > start+5 })

	sandboxtest.Must[methods.OKOutput](t, i, methods.PauseSandbox, map[string]any{"sandboxId": id})
	// The measurement itself, not a wait: CPU time over a window in which
	// nothing may happen, so no condition can end it early.
	const window = time.Second
	t1 := sandboxtest.CPUTicks(pid)
	time.Sleep(window)
	t2 := sandboxtest.CPUTicks(pid)
	if t1 < 0 || t2 != t1 {
		t.Errorf("CPU time of the paused busy loop went from %d to %d ticks in %s, want unchanged", t1, t2, window)
	}
	sandboxtest.Must[methods.OKOutput](t, i, methods.ResumeSandbox, struct{}{})
	testutil.Eventually(t, testutil.Short, "the resumed busy loop using CPU", func() bool { return sandboxtest.CPUTicks(pid) > t2+5 })
	sandboxtest.Must[methods.OKOutput](t, i, methods.TerminateSandbox, map[string]any{"sandboxId": id})
}

// TestSandboxLimits: the template's limits hold where the machine enforces
// them, and the sandbox says which do.
func TestSandboxLimits(t *testing.T) {
	tpl := sbTemplates(t, map[string]map[string]any{
		"tight": {"name": "Tight", "memoryMb": 64, "pids": 50, "cpus": 0.5},
	})
	e := sandboxtest.Start(t, platform.Config{TemplatesDir: tpl})
	i := e.Instance("tight", "tight", "")
	id := i.Ensure(t)
	run := i.Events("sandbox_running")
	if len(run) == 0 {
		t.Fatal("no sandbox_running event")
	}
	detail := run[0].Detail
	enforced := func(what string) bool { return strings.Contains(detail, what+" true") }
	t.Logf("sandbox_running: %s", detail)
	if !strings.Contains(detail, "limits enforced:") || !strings.Contains(detail, "pause by ") {
		t.Fatalf("sandbox_running %q does not say which limits are enforced", detail)
	}

	cases := []struct {
		name    string
		limit   string // as the event names it
		cgroup  map[string]string
		command string
		timeout int
		check   func(t *testing.T, o methods.InstanceExecInSandboxOutputFull)
	}{
		{"memory 64 MiB: a process taking 200 MB is killed", "memory",
			map[string]string{"memory/memory.limit_in_bytes": fmt.Sprint(64 << 20), "memory.max": fmt.Sprint(64 << 20)},
			`s=$(head -c 200000000 /dev/zero | tr '\0' x); echo ${#s}`, 60000,
			func(t *testing.T, o methods.InstanceExecInSandboxOutputFull) {
				if o.Success || o.ExitCode != 137 || strings.Contains(o.Stdout, "200000000") {
					t.Errorf("exit %d, stdout %q: want killed (137)", o.ExitCode, o.Stdout)
				}
				if !o.OutOfMemory || !strings.Contains(o.Stderr, "the command ran out of memory (limit 64 MiB)") {
					t.Errorf("outOfMemory %v, stderr %q: want the answer to say the command ran out of memory", o.OutOfMemory, o.Stderr)
				}
			}},
		{"pids 50: forking past the limit fails", "pids",
			map[string]string{"pids/pids.max": "50", "pids.max": "50"},
			`for i in $(seq 300); do sleep 30 & done; echo all started`, 3000,
			func(t *testing.T, o methods.InstanceExecInSandboxOutputFull) {
				if o.Success || strings.Contains(o.Stdout, "all started") || !strings.Contains(o.Stderr, "Resource temporarily unavailable") {
					t.Errorf("exit %d timedOut %v, stdout %q, stderr %.300q: want forks refused", o.ExitCode, o.TimedOut, o.Stdout, o.Stderr)
				}
			}},
		{"cpu 0.5: the quota is half the period", "cpu",
			map[string]string{"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000", "cpu.max": "50000 100000"},
			`true`, 5000,
			func(t *testing.T, o methods.InstanceExecInSandboxOutputFull) {
				if !o.Success {
					t.Errorf("exit %d", o.ExitCode)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !enforced(c.limit) {
				t.Logf("this machine does not enforce the %s limit (the sandbox says so: %q); nothing to check", c.limit, detail)
				return
			}
			for _, d := range sandboxtest.CgroupDirs(id) {
				if strings.HasSuffix(d, "-sup") {
					continue // the supervisor's own memory group
				}
				for file, want := range c.cgroup {
					ctl, name, ok := strings.Cut(file, "/")
					if ok && filepath.Base(filepath.Dir(filepath.Dir(d))) != ctl {
						continue
					}
					if !ok {
						name = file
					}
					if b, err := os.ReadFile(filepath.Join(d, name)); err == nil && strings.TrimSpace(string(b)) != want {
						t.Errorf("%s/%s = %s, want %s", d, name, strings.TrimSpace(string(b)), want)
					}
				}
			}
			o := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": c.command, "timeoutMs": c.timeout})
			c.check(t, o)
			// The supervisor lived through it: the sandbox still works.
			if got := i.Sh(t, "echo still here"); got != "still here" {
				t.Errorf("after the limit: %q", got)
			}
			if s := i.SandboxState(); s != methods.SandboxRunning {
				t.Errorf("sandbox state %q after the limit, want running", s)
			}
		})
	}
}

// TestFullTmpfs: filling /tmp is ENOSPC for the writer, not the end of
// the sandbox; when a tmpfs does fill the sandbox's memory, the command is
// killed, with an answer that says so, and the supervisor lives on; the
// workspace stays.
func TestFullTmpfs(t *testing.T) {
	tpl := sbTemplates(t, map[string]map[string]any{
		"small": {"name": "Small", "memoryMb": 256},
		"shm":   {"name": "All of memory in /dev/shm", "memoryMb": 128, "tmpMb": 128},
	})
	e := sandboxtest.Start(t, platform.Config{TemplatesDir: tpl})
	i := e.Instance("fill-tmp", "small", "")
	i.Ensure(t)
	i.Sh(t, "echo kept > /workspace/kept")
	o := i.Exec(t, "head -c 300M /dev/zero > /tmp/big; echo $?; df -m /tmp | tail -1")
	if strings.HasPrefix(o.Stdout, "0\n") || !strings.Contains(o.Stderr, "No space left on device") {
		t.Errorf("writing 300 MB to a 64 MiB /tmp: stdout %q stderr %q; want ENOSPC", o.Stdout, o.Stderr)
	}
	if !strings.Contains(o.Stdout, " 64 ") {
		t.Errorf("/tmp is not 64 MiB (a quarter of 256): %q", o.Stdout)
	}
	if got := i.Sh(t, "cat /workspace/kept; cat /proc/self/oom_score_adj"); got != "kept\n1000" {
		t.Errorf("after a full /tmp: %q, want the workspace kept and commands first in the OOM killer's line (1000)", got)
	}
	if s := i.SandboxState(); s != methods.SandboxRunning {
		t.Errorf("sandbox state %q after a full /tmp, want running", s)
	}

	j := e.Instance("fill-shm", "shm", "")
	id := j.Ensure(t)
	// On cgroup v1 the supervisor's memory group is its own, beside the
	// sandbox's: the sandbox's commands are in the sandbox's.
	if memGroup := func(pid int) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.SplitN(line, ":", 3); len(f) == 3 && strings.Contains(","+f[1]+",", ",memory,") {
				return f[2]
			}
		}
		return ""
	}; sandboxtest.Exists("/sys/fs/cgroup/memory/roost") {
		j.Detach(t, "sleep 7654321")
		cmd := sandboxtest.FindProc(e.NodeDir(), id, "sleep 7654321")
		supPid := sandboxtest.FindProc(e.NodeDir(), id, "/run/roost/supervisor.json")
		if got := memGroup(cmd); !strings.HasSuffix(got, "/roost/"+id) {
			t.Errorf("a command's memory group is %q, want the sandbox's (/roost/%s)", got, id)
		}
		if got := memGroup(supPid); !strings.HasSuffix(got, "/roost/"+id+"-sup") {
			t.Errorf("the supervisor's memory group is %q, want its own (/roost/%s-sup)", got, id)
		}
	}
	sup := sandboxtest.FindProc(e.NodeDir(), id, "/run/roost/supervisor.json")
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", sup)); err != nil || strings.TrimSpace(string(b)) == "1000" {
		t.Errorf("the supervisor's oom_score_adj is %q (%v), want below its commands'", b, err)
	}
	o = sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, j, methods.ExecInSandbox,
		map[string]any{"command": "head -c 200M /dev/zero > /dev/shm/big", "timeoutMs": 60000})
	if enforced := strings.Contains(j.Events("sandbox_running")[0].Detail, "memory true"); enforced {
		if o.ExitCode != 137 || !o.OutOfMemory || !strings.Contains(o.Stderr, "ran out of memory (limit 128 MiB)") {
			t.Errorf("filling memory through /dev/shm: exit %d, outOfMemory %v, stderr %q; want killed with a sentence", o.ExitCode, o.OutOfMemory, o.Stderr)
		}
	}
	t.Logf("shm fill: exit %d oom %v stderr %q", o.ExitCode, o.OutOfMemory, o.Stderr)
	if now := sandboxtest.FindProc(e.NodeDir(), id, "/run/roost/supervisor.json"); now != sup || now == 0 {
		t.Errorf("the supervisor was %d and is %d after the sandbox ran out of memory, want the same", sup, now)
	}
	if s := j.SandboxState(); s != methods.SandboxRunning {
		t.Errorf("sandbox state %q after it ran out of memory, want running", s)
	}
}
