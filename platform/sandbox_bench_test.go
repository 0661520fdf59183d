package platform_test

// Benchmarks of sandboxes on the embedded node with real bubblewrap (see
// the Sandboxes section of BENCHMARKS.md): cold start from ensureSandbox,
// execInSandbox of `true`, resume, and the memory of idle sandboxes. Each
// measures a fixed number of samples whatever b.N, prints a table and
// reports medians and tails as metrics; `make bench` runs them once.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// sbLatencies is a set of samples.
type sbLatencies []time.Duration

// pct is the nearest-rank percentile p (0-100).
func (l sbLatencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(sbLatencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sbTable prints a results table.
type sbTable struct{ rows [][]string }

func (t *sbTable) add(name string, l sbLatencies, note string) {
	t.rows = append(t.rows, []string{name, strconv.Itoa(len(l)), fmt.Sprintf("%.2f", ms(l.pct(50))), fmt.Sprintf("%.2f", ms(l.pct(99))), note})
}

func (t *sbTable) print(title string) {
	fmt.Printf("\n%s\n%-52s %5s %10s %10s  %s\n", title, "measure", "n", "p50 ms", "p99 ms", "")
	for _, r := range t.rows {
		fmt.Printf("%-52s %5s %10s %10s  %s\n", r[0], r[1], r[2], r[3], r[4])
	}
}

// sbTimeRun times n runs of a command started from this process, with the
// environment a sandbox's command gets (a HOME without dotfiles).
func sbTimeRun(b *testing.B, n int, argv ...string) sbLatencies {
	b.Helper()
	home := b.TempDir()
	var l sbLatencies
	for k := 0; k < n; k++ {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8"}
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v: %s", argv, err, out)
		}
		l = append(l, time.Since(t0))
	}
	return l
}

// sbBareBwrap is bubblewrap with the namespaces and root of a sandbox,
// running `true`.
func sbBareBwrap() []string {
	a := []string{"bwrap", "--unshare-user", "--uid", "1000", "--gid", "1000", "--unshare-pid", "--unshare-ipc",
		"--unshare-uts", "--unshare-net", "--unshare-cgroup-try", "--new-session", "--cap-drop", "ALL",
		"--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"}
	if sandboxtest.Exists("/usr/lib64") {
		a = append(a, "--symlink", "usr/lib64", "/lib64")
	}
	return append(a, "true")
}

// eventAfter is the time of the first lifecycle event named name at or
// after t0 (the server records milliseconds).
func eventAfter(i *sandboxtest.Inst, name string, t0 time.Time) (time.Time, bool) {
	from := t0.Truncate(time.Millisecond)
	for _, ev := range i.StatusNow().LifecycleEvents {
		if ev.Event != name {
			continue
		}
		at, err := time.Parse(time.RFC3339, ev.CreatedAt)
		if err == nil && !at.Before(from) {
			return at, true
		}
	}
	return time.Time{}, false
}

// coldStart terminates the instance's sandbox, then times ensureSandbox
// until the event that says it is up (sandbox_running, or ready for an
// instance with an agent), by the event's own time.
func coldStart(b testing.TB, i *sandboxtest.Inst, upEvent string) time.Duration {
	b.Helper()
	if st := i.StatusNow(); st.Sandbox != nil && st.Sandbox.State != methods.SandboxTerminated {
		sandboxtest.Must[methods.OKOutput](b, i, methods.TerminateSandbox, map[string]any{"sandboxId": st.Sandbox.E2BID})
	}
	t0 := time.Now()
	sandboxtest.Must[methods.InstanceEnsureSandboxOutput](b, i, methods.EnsureSandbox, struct{}{})
	var at time.Time
	testutil.Eventually(b, testutil.Medium, upEvent+" of "+i.ID, func() bool {
		var ok bool
		at, ok = eventAfter(i, upEvent, t0)
		return ok
	})
	return at.Sub(t0)
}

// BenchmarkSandboxColdStart: ensureSandbox to the sandbox running (no
// bundle) or the agent up (instance ready), sequential and concurrent,
// beside bare bubblewrap and a plain fork/exec of `true`.
func BenchmarkSandboxColdStart(b *testing.B) {
	const seq, conc, agentSeq = 100, 20, 20
	e := sandboxtest.Start(b, platform.Config{})
	e.Publish("bench", "-tick", "1h")
	one := e.Instance("cold", "default", "")
	one.WaitSandbox(b, methods.SandboxRunning)
	agent := e.Instance("cold-agent", "default", "bench")
	agent.WaitStatus(b, methods.InstanceReady)
	many := make([]*sandboxtest.Inst, conc)
	for k := range many {
		many[k] = e.Instance(fmt.Sprintf("cold-%d", k), "default", "")
	}
	for _, i := range many {
		i.WaitSandbox(b, methods.SandboxRunning)
		sandboxtest.Must[methods.OKOutput](b, i, methods.TerminateSandbox, map[string]any{"sandboxId": i.StatusNow().Sandbox.E2BID})
	}
	we := sandboxtest.Start(b, platform.Config{WarmPool: 1})
	we.Publish("bench", "-tick", "1h")
	wone := we.Instance("warm", "default", "")
	wone.WaitSandbox(b, methods.SandboxRunning)
	wagent := we.Instance("warm-agent", "default", "bench")
	wagent.WaitStatus(b, methods.InstanceReady)
	b.ResetTimer()
	for range b.N {
		direct := sbTimeRun(b, seq, "true")
		bare := sbTimeRun(b, seq, sbBareBwrap()...)

		var sequential sbLatencies
		for k := 0; k < seq; k++ {
			sequential = append(sequential, coldStart(b, one, "sandbox_running"))
		}

		concurrent := make(sbLatencies, conc)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k, i := range many {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				t0 := time.Now()
				if err := i.Call(methods.EnsureSandbox, struct{}{}, nil); err != nil {
					b.Errorf("ensureSandbox: %v", err)
					return
				}
				// The event's own time is the measurement; the poll only
				// finds it.
				var at time.Time
				if !testutil.Until(testutil.Medium, func() bool {
					var ok bool
					at, ok = eventAfter(i, "sandbox_running", t0)
					return ok
				}) {
					b.Errorf("no sandbox_running event within %s of ensureSandbox", testutil.Medium)
					return
				}
				concurrent[k] = at.Sub(t0)
			}()
		}
		close(start)
		wg.Wait()

		var withAgent sbLatencies
		for k := 0; k < agentSeq; k++ {
			withAgent = append(withAgent, coldStart(b, agent, "ready"))
		}

		// The warm pool: a platform whose node keeps one sandbox of the
		// template ready; each start claims it (the pool refills between
		// starts, outside the timing).
		var warm, warmAgent sbLatencies
		for k := 0; k < seq; k++ {
			waitWarm(b, we)
			warm = append(warm, coldStart(b, wone, "sandbox_running"))
		}
		for k := 0; k < agentSeq; k++ {
			waitWarm(b, we)
			warmAgent = append(warmAgent, coldStart(b, wagent, "ready"))
		}
		st := e.Srv.LocalNode().Metrics().Starts
		wst := we.Srv.LocalNode().Metrics().Starts

		var t sbTable
		t.add("fork/exec of true (this process)", direct, "")
		t.add("bare bwrap ... true", bare, "")
		t.add(fmt.Sprintf("cold start, sequential (%d)", seq), sequential, fmt.Sprintf("%.1fx bare bwrap (p50)", ms(sequential.pct(50))/ms(bare.pct(50))))
		t.add(fmt.Sprintf("cold start, %d at once", conc), concurrent, fmt.Sprintf("%.1fx bare bwrap (p50)", ms(concurrent.pct(50))/ms(bare.pct(50))))
		t.add(fmt.Sprintf("cold start to agent ready, sequential (%d)", agentSeq), withAgent, "health check passed")
		t.add(fmt.Sprintf("warm start, sequential (%d)", seq), warm, fmt.Sprintf("%.2fx cold (p50)", ms(warm.pct(50))/ms(sequential.pct(50))))
		t.add(fmt.Sprintf("warm start to agent ready, sequential (%d)", agentSeq), warmAgent, "health check passed")
		t.print("Sandbox cold start (ensureSandbox → up)")
		if st != nil {
			c := st.ColdP50
			node := float64(c.QueuedUs+c.PrepareUs+c.SupervisorUs) / 1000
			fmt.Printf("\nWhere a cold start goes (medians of the node's last %d starts; sequential p50 %.2f ms)\n", st.Cold, ms(sequential.pct(50)))
			fmt.Printf("  %-58s %8.2f ms\n", "node: wait for a start slot", float64(c.QueuedUs)/1000)
			fmt.Printf("  %-58s %8.2f ms\n", "node: directories, spec, cgroups, bundle", float64(c.PrepareUs)/1000)
			fmt.Printf("  %-58s %8.2f ms\n", "spawn → supervisor main (gate, bwrap, Go runtime start)", float64(c.SpawnUs)/1000)
			fmt.Printf("  %-58s %8.2f ms\n", "supervisor main → answering on its socket", float64(c.SupervisorUs-c.SpawnUs)/1000)
			fmt.Printf("  %-58s %8.2f ms\n", "platform (RPC, rows, events, tunnel, running)", ms(sequential.pct(50))-node)
			fmt.Printf("  %-58s %8.2f ms\n", "agent start and first passing health check", ms(withAgent.pct(50))-ms(sequential.pct(50)))
			b.ReportMetric(float64(c.SpawnUs)/1000, "spawn-p50-ms")
			b.ReportMetric(ms(sequential.pct(50))-node, "platform-p50-ms")
		}
		if wst != nil {
			fmt.Printf("  %-58s %8.2f ms\n", "warm: the node's claim of a member (median)", float64(wst.WarmP50Us)/1000)
		}
		b.ReportMetric(ms(sequential.pct(50)), "seq-p50-ms")
		b.ReportMetric(ms(sequential.pct(99)), "seq-p99-ms")
		b.ReportMetric(ms(concurrent.pct(50)), "conc-p50-ms")
		b.ReportMetric(ms(concurrent.pct(99)), "conc-p99-ms")
		b.ReportMetric(ms(withAgent.pct(50)), "agent-p50-ms")
		b.ReportMetric(ms(bare.pct(50)), "bwrap-p50-ms")
		b.ReportMetric(ms(warm.pct(50)), "warm-p50-ms")
		b.ReportMetric(ms(warmAgent.pct(50)), "warm-agent-p50-ms")
		b.ReportMetric(ms(sequential.pct(50))/ms(bare.pct(50)), "x-bwrap")
	}
}

// waitWarm waits until the node of e has a warm member free.
func waitWarm(b testing.TB, e *sandboxtest.Env) {
	b.Helper()
	testutil.Eventually(b, testutil.Medium, "a warm member free", func() bool {
		for _, p := range e.Srv.LocalNode().Metrics().WarmPools {
			if p.Idle > 0 {
				return true
			}
		}
		return false
	})
}

// BenchmarkSandboxExec: execInSandbox of `true`, end to end through the
// instance RPC, beside a direct fork/exec of `true` (and of `bash -lc
// true`, what the supervisor runs) in this process.
func BenchmarkSandboxExec(b *testing.B) {
	const n, warm = 300, 20
	e := sandboxtest.Start(b, platform.Config{})
	i := e.Instance("exec-bench", "default", "")
	i.Ensure(b)
	run := func() time.Duration {
		t0 := time.Now()
		o := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](b, i, methods.ExecInSandbox, map[string]any{"command": "true"})
		d := time.Since(t0)
		if !o.Success {
			b.Fatalf("exec true: %+v", o)
		}
		return d
	}
	for k := 0; k < warm; k++ {
		run()
	}
	b.ResetTimer()
	for range b.N {
		var viaRPC sbLatencies
		for k := 0; k < n; k++ {
			viaRPC = append(viaRPC, run())
		}
		direct := sbTimeRun(b, n, "true")
		bash := sbTimeRun(b, n, "bash", "-lc", "true")
		inside := inSandboxBash(b, i)
		ratio := ms(viaRPC.pct(50)) / ms(direct.pct(50))
		var t sbTable
		t.add("fork/exec of true (this process)", direct, "")
		t.add("fork/exec of bash -lc true (this process)", bash, "")
		t.add("execInSandbox true (instance RPC)", viaRPC, fmt.Sprintf("%.1fx direct true, %.2fx bash -lc true inside (%.2f ms) (p50)",
			ratio, ms(viaRPC.pct(50))/ms(inside), ms(inside)))
		t.print("Sandbox exec (targets p50 under 1.5x bash -lc true inside the sandbox, and under 3x the direct fork/exec)")
		b.ReportMetric(ms(inside), "bash-lc-inside-ms")
		b.ReportMetric(ms(viaRPC.pct(50))/ms(inside), "x-inside")
		b.ReportMetric(ms(viaRPC.pct(50)), "exec-p50-ms")
		b.ReportMetric(ms(viaRPC.pct(99)), "exec-p99-ms")
		b.ReportMetric(ms(direct.pct(50)), "direct-p50-ms")
		b.ReportMetric(ms(bash.pct(50)), "bash-lc-p50-ms")
		b.ReportMetric(ratio, "x-direct")
	}
}

// inSandboxBash is what one bash -lc true costs inside the sandbox: a loop
// of 200 of them, timed by the sandbox's own clock, divided.
func inSandboxBash(b *testing.B, i *sandboxtest.Inst) time.Duration {
	const loops = 200
	out := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](b, i, methods.ExecInSandbox, map[string]any{"command": fmt.Sprintf(
		`s=$(date +%%s%%N); for k in $(seq %d); do bash -lc true; done; e=$(date +%%s%%N); echo $(( (e - s) / %d ))`, loops, loops)})
	ns, err := strconv.ParseInt(strings.TrimSpace(out.Stdout), 10, 64)
	if err != nil || !out.Success {
		b.Fatalf("the in-sandbox loop answered %+v", out)
	}
	return time.Duration(ns)
}

// BenchmarkSandboxResume: resumeSandbox of a paused sandbox through the
// instance RPC, and the node-side thaw alone (the cgroup freezer written
// and waited for, as the node does).
func BenchmarkSandboxResume(b *testing.B) {
	const n = 100
	e := sandboxtest.Start(b, platform.Config{})
	e.Publish("bench", "-tick", "1h")
	i := e.Instance("resume-bench", "default", "bench")
	id := i.Ensure(b)
	i.WaitStatus(b, methods.InstanceReady)
	other := e.Instance("thaw-bench", "default", "bench")
	otherID := other.Ensure(b)
	b.ResetTimer()
	for range b.N {
		var pause, resume sbLatencies
		for k := 0; k < n; k++ {
			t0 := time.Now()
			sandboxtest.Must[methods.OKOutput](b, i, methods.PauseSandbox, map[string]any{"sandboxId": id})
			pause = append(pause, time.Since(t0))
			t0 = time.Now()
			sandboxtest.Must[methods.OKOutput](b, i, methods.ResumeSandbox, struct{}{})
			resume = append(resume, time.Since(t0))
		}
		var t sbTable
		t.add("pauseSandbox (instance RPC)", pause, "")
		t.add("resumeSandbox (instance RPC)", resume, "")
		freezer := ""
		for _, d := range sandboxtest.CgroupDirs(otherID) {
			if sandboxtest.Exists(filepath.Join(d, "freezer.state")) {
				freezer = d
			}
		}
		if freezer != "" {
			set := func(state string) time.Duration {
				t0 := time.Now()
				if err := os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte(state), 0); err != nil {
					b.Fatal(err)
				}
				for {
					s, _ := os.ReadFile(filepath.Join(freezer, "freezer.state"))
					if strings.TrimSpace(string(s)) == state {
						return time.Since(t0)
					}
				}
			}
			var freeze, thaw sbLatencies
			for k := 0; k < n; k++ {
				freeze = append(freeze, set("FROZEN"))
				thaw = append(thaw, set("THAWED"))
			}
			t.add("node side: cgroup v1 freeze (write, wait FROZEN)", freeze, "")
			t.add("node side: cgroup v1 thaw (write, wait THAWED)", thaw, "")
			b.ReportMetric(ms(thaw.pct(50)), "thaw-p50-ms")
		}
		t.print("Sandbox resume (target under 10 ms)")
		b.ReportMetric(ms(resume.pct(50)), "resume-p50-ms")
		b.ReportMetric(ms(resume.pct(99)), "resume-p99-ms")
		b.ReportMetric(ms(pause.pct(50)), "pause-p50-ms")
	}
	if got := other.Sh(b, "echo ok"); got != "ok" {
		b.Errorf("the sandbox frozen and thawed by hand: %q", got)
	}
}

// sbMemOf sums what a process holds, from /proc/PID/smaps_rollup, in KiB.
func sbMemOf(pid int) (rss, pss int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss += v
		case "Pss:":
			pss += v
		}
	}
	return rss, pss
}

// densityCount is how many sandboxes BenchmarkSandboxDensity starts:
// ROOST_BENCH_SANDBOXES, default 1000.
func densityCount(b *testing.B) int {
	n := 1000
	if v := os.Getenv("ROOST_BENCH_SANDBOXES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("ROOST_BENCH_SANDBOXES=%q is not a positive count", v)
		}
	}
	return n
}

// sbSandboxUIDs counts the host's processes that run as a sandbox's uid
// (the node gives them from 200000 up).
func sbSandboxUIDs() int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for _, u := range sandboxtest.Uids(pid) {
			if u >= 200000 {
				n++
				break
			}
		}
	}
	return n
}

// sbMounts counts the mounts under dir in this process's view.
func sbMounts(dir string) int {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			n++
		}
	}
	return n
}

// sbEach calls fn for 0..n-1 from the given number of goroutines, and
// returns when every call has.
func sbEach(n, workers int, fn func(k int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				fn(k)
			}
		}()
	}
	for k := range n {
		next <- k
	}
	close(next)
	wg.Wait()
}

// BenchmarkSandboxDensity: ROOST_BENCH_SANDBOXES (default 1000) idle
// sandboxes on one node, each with the test agent ticking once an hour:
// how fast they are made (instances.create from 16 clients until every
// instance is ready), the memory of each sandbox's processes (RSS, and
// PSS, which shares the pages of common binaries among the sandboxes) and
// of its memory cgroup, the platform's and node's own RSS (one process),
// then the teardown, after which nothing of them may be left: processes,
// processes under sandbox uids, cgroups, mounts.
func BenchmarkSandboxDensity(b *testing.B) {
	// idleSettle is how long the sandboxes idle, once all are ready,
	// before their memory is read.
	const idleSettle = 2 * time.Second
	const workers = 16
	n := densityCount(b)
	e := sandboxtest.Start(b, platform.Config{})
	e.Publish("bench", "-tick", "1h")
	selfBefore, _ := sbMemOf(os.Getpid())
	b.ResetTimer()
	for range b.N {
		insts := make([]*sandboxtest.Inst, n)
		t0 := time.Now()
		sbEach(n, workers, func(k int) {
			out, err := e.Admin.CreateInstance(e.Ctx, methods.CreateInstanceInput{TemplateSlug: "default", Name: fmt.Sprintf("dense-%d", k), BundleSlug: "bench"})
			if err != nil {
				b.Errorf("instances.create %d: %v", k, err)
				return
			}
			insts[k] = &sandboxtest.Inst{Env: e, ID: out.InstanceID}
		})
		created := time.Since(t0)
		if b.Failed() {
			b.FailNow()
		}
		ids := make([]string, n)
		for k, i := range insts {
			testutil.Eventually(b, testutil.Long, "instance "+i.ID+" ready", func() bool {
				st, err := e.Admin.InstanceStatus(e.Ctx, i.ID)
				if err != nil || st.Sandbox == nil {
					return false
				}
				ids[k] = st.Sandbox.E2BID
				return st.Status == methods.InstanceReady
			})
		}
		ready := time.Since(t0)
		// Not a wait for a condition: the measurement is of sandboxes that
		// have idled a while, and no event marks the end of their start-up
		// work (health checks, first log lines, the runtimes settling).
		time.Sleep(idleSettle)
		type part struct{ rss, pss int64 }
		parts := map[string]*part{"bwrap": {}, "supervisor": {}, "agent": {}, "other": {}}
		var rss, pss, cg, procs int64
		for _, id := range ids {
			for _, p := range sandboxtest.HostPids(e.NodeDir(), id) {
				r, s := sbMemOf(p)
				rss, pss, procs = rss+r, pss+s, procs+1
				name := "other"
				args := strings.Fields(sandboxtest.Cmdline(p))
				switch {
				case len(args) == 0:
				case filepath.Base(args[0]) == "bwrap":
					name = "bwrap"
				case strings.HasSuffix(args[0], "sandbox-init") || len(args) > 1 && args[1] == "sandbox-init":
					name = "supervisor"
				case args[0] == "./agent":
					name = "agent"
				}
				parts[name].rss += r
				parts[name].pss += s
			}
			for _, d := range sandboxtest.CgroupDirs(id) {
				if v, err := os.ReadFile(filepath.Join(d, "memory.usage_in_bytes")); err == nil {
					x, _ := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
					cg += x >> 10
				} else if v, err := os.ReadFile(filepath.Join(d, "memory.current")); err == nil {
					x, _ := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
					cg += x >> 10
				}
			}
		}
		selfRSS, _ := sbMemOf(os.Getpid())

		// Teardown: every sandbox terminated, then nothing of them left.
		t1 := time.Now()
		sbEach(n, workers, func(k int) {
			if _, err := e.Admin.ArchiveInstance(e.Ctx, insts[k].ID); err != nil {
				b.Errorf("instances.archive %s: %v", insts[k].ID, err)
			}
		})
		var left []string
		testutil.Eventually(b, testutil.Long, "nothing left of the sandboxes", func() bool {
			left = left[:0]
			for _, id := range ids {
				if p := sandboxtest.HostPids(e.NodeDir(), id); len(p) > 0 {
					left = append(left, fmt.Sprintf("%s: %d processes", id, len(p)))
				}
				if d := sandboxtest.CgroupDirs(id); len(d) > 0 {
					left = append(left, fmt.Sprintf("%s: cgroups %v", id, d))
				}
			}
			if u := sbSandboxUIDs(); u > 0 {
				left = append(left, fmt.Sprintf("%d processes under sandbox uids", u))
			}
			if m := sbMounts(e.NodeDir()); m > 0 {
				left = append(left, fmt.Sprintf("%d mounts under the node's dir", m))
			}
			return len(left) == 0
		})
		torn := time.Since(t1)

		per := func(kib int64) float64 { return float64(kib) / 1024 / float64(n) }
		fmt.Printf("\nSandbox density: %d idle sandboxes on one node, each with the test agent (%d processes in all)\n", n, procs)
		fmt.Printf("%-40s %10.1f s  (%.1f sandboxes/s)\n", "instances.create, 16 clients", created.Seconds(), float64(n)/created.Seconds())
		fmt.Printf("%-40s %10.1f s  (%.1f sandboxes/s)\n", "until every instance is ready", ready.Seconds(), float64(n)/ready.Seconds())
		fmt.Printf("%-40s %10.1f s  (%.1f sandboxes/s)\n", "archived, until nothing is left", torn.Seconds(), float64(n)/torn.Seconds())
		fmt.Printf("%-40s %14s %14s\n", "per sandbox", "RSS MiB", "PSS MiB")
		for _, name := range []string{"bwrap", "supervisor", "agent", "other"} {
			fmt.Printf("%-40s %14.2f %14.2f\n", name, per(parts[name].rss), per(parts[name].pss))
		}
		fmt.Printf("%-40s %14.2f %14.2f\n", "all processes", per(rss), per(pss))
		fmt.Printf("%-40s %14.2f\n", "memory cgroup usage", per(cg))
		fmt.Printf("%-40s %14.1f MiB (%.1f MiB before the sandboxes)\n", "platform and node (this process) RSS", float64(selfRSS)/1024, float64(selfBefore)/1024)
		b.ReportMetric(float64(n)/ready.Seconds(), "ready-sandboxes/s")
		b.ReportMetric(per(rss), "rss-MiB/sandbox")
		b.ReportMetric(per(pss), "pss-MiB/sandbox")
		b.ReportMetric(per(cg), "cgroup-MiB/sandbox")
		b.ReportMetric(float64(selfRSS)/1024, "platform-rss-MiB")
	}
}
