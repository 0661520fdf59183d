package sandbox_test

// End-to-end tests of execInSandbox and its companions (getExecOutput,
// listExecs, cancelExec) through the instance RPC, with real bubblewrap:
// exit codes, streams, timeouts, truncation with the full output kept,
// cancellation, history, concurrency, environment, bad inputs.

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

func TestSandboxExec(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("exec", "default", "")
	i.Ensure(t)

	type out = methods.InstanceExecInSandboxOutputFull
	cases := []struct {
		name  string
		in    map[string]any
		check func(t *testing.T, o out)
	}{
		{"exit 0 succeeds", map[string]any{"command": "true"}, func(t *testing.T, o out) {
			if !o.Success || o.ExitCode != 0 || o.TimedOut || o.Cancelled {
				t.Errorf("got %+v", o)
			}
		}},
		{"exit 3 fails with its code", map[string]any{"command": "exit 3"}, func(t *testing.T, o out) {
			if o.Success || o.ExitCode != 3 || o.TimedOut {
				t.Errorf("got success %v exitCode %d timedOut %v, want false 3 false", o.Success, o.ExitCode, o.TimedOut)
			}
		}},
		{"a signal is 128 plus its number", map[string]any{"command": "kill -TERM $$"}, func(t *testing.T, o out) {
			if o.Success || o.ExitCode != 143 {
				t.Errorf("got success %v exitCode %d, want false 143", o.Success, o.ExitCode)
			}
		}},
		{"stdout and stderr apart", map[string]any{"command": "echo out; echo err >&2; echo more"}, func(t *testing.T, o out) {
			if o.Stdout != "out\nmore\n" || o.Stderr != "err\n" {
				t.Errorf("stdout %q stderr %q", o.Stdout, o.Stderr)
			}
		}},
		{"runs in /workspace", map[string]any{"command": "pwd"}, func(t *testing.T, o out) {
			if o.Stdout != "/workspace\n" {
				t.Errorf("pwd = %q, want /workspace", o.Stdout)
			}
		}},
		{"runs with bash -lc", map[string]any{"command": `echo "$0 $BASH_VERSION"; shopt -q login_shell && echo login`}, func(t *testing.T, o out) {
			lines := strings.Split(strings.TrimSpace(o.Stdout), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "bash ") || len(lines[0]) <= len("bash ") || lines[1] != "login" {
				t.Errorf("stdout %q: not a bash login shell", o.Stdout)
			}
		}},
		{"env is passed", map[string]any{"command": `printf '%s|%s' "$GREETING" "$_UNDER_2"`, "env": map[string]string{"GREETING": "hello world", "_UNDER_2": "x=y"}}, func(t *testing.T, o out) {
			if o.Stdout != "hello world|x=y" {
				t.Errorf("stdout %q", o.Stdout)
			}
		}},
		{"the sandbox's own env is there", map[string]any{"command": `printf '%s %s' "$ROOST_INSTANCE_ID" "$HOME"`}, func(t *testing.T, o out) {
			if o.Stdout != i.ID+" /workspace" {
				t.Errorf("stdout %q, want %q", o.Stdout, i.ID+" /workspace")
			}
		}},
		{"timeoutMs kills the command", map[string]any{"command": "echo started; sleep 10", "timeoutMs": 300}, func(t *testing.T, o out) {
			if !o.TimedOut || o.Success || o.Stdout != "started\n" {
				t.Errorf("got timedOut %v success %v stdout %q, want true false \"started\"", o.TimedOut, o.Success, o.Stdout)
			}
		}},
		{"background children go with the command", map[string]any{"command": "sleep 30 & echo bg"}, func(t *testing.T, o out) {
			if !o.Success || o.Stdout != "bg\n" {
				t.Errorf("got %+v", o)
			}
		}},
		{"stdin is empty", map[string]any{"command": "cat; echo done"}, func(t *testing.T, o out) {
			if o.Stdout != "done\n" {
				t.Errorf("stdout %q", o.Stdout)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := sandboxtest.Must[out](t, i, methods.ExecInSandbox, c.in)
			if o.ExecID == "" || o.DurationMs < 0 {
				t.Errorf("execId %q durationMs %d", o.ExecID, o.DurationMs)
			}
			c.check(t, o)
		})
	}
	t.Run("no command outlives the exec that ran it", func(t *testing.T) {
		if got := i.Sh(t, sandboxtest.Ps+" | grep -c '^[0-9]* sleep ' || true"); got != "0" {
			t.Errorf("%s sleeps left running in the sandbox", got)
		}
	})
}

// TestSandboxExecBadInput: inputs the exec refuses before running anything.
func TestSandboxExecBadInput(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("bad-exec", "default", "")
	i.Ensure(t)
	cases := []struct {
		name string
		in   map[string]any
	}{
		{"empty command", map[string]any{"command": ""}},
		{"blank command", map[string]any{"command": "  \n\t"}},
		{"no command", map[string]any{}},
		{"NUL in the command", map[string]any{"command": "echo a\x00b"}},
		{"command too long", map[string]any{"command": "echo " + strings.Repeat("a", 64<<10)}},
		{"timeoutMs 0", map[string]any{"command": "true", "timeoutMs": 0}},
		{"negative timeoutMs", map[string]any{"command": "true", "timeoutMs": -5}},
		{"timeoutMs over a day", map[string]any{"command": "true", "timeoutMs": 86400001}},
		{"timeoutMs not a number", map[string]any{"command": "true", "timeoutMs": "300"}},
		{"env name with a dash", map[string]any{"command": "true", "env": map[string]string{"BAD-NAME": "x"}}},
		{"env name starting with a digit", map[string]any{"command": "true", "env": map[string]string{"1X": "x"}}},
		{"empty env name", map[string]any{"command": "true", "env": map[string]string{"": "x"}}},
		{"env value with NUL", map[string]any{"command": "true", "env": map[string]string{"OK": "a\x00b"}}},
		{"unknown field", map[string]any{"command": "true", "cwd": "/"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := i.Call(methods.ExecInSandbox, c.in, nil)
			sandboxtest.WantErr(t, "execInSandbox", err, methods.InvalidInput)
		})
	}
	list := sandboxtest.Must[methods.ListExecsOutput](t, i, methods.ListExecs, struct{}{})
	if list.Total != 0 {
		t.Errorf("refused commands were recorded: %+v", list.Execs)
	}
}

// TestSandboxExecOutput: a reply carries at most 128 KiB of each stream;
// getExecOutput returns all of it, in pieces.
func TestSandboxExecOutput(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("big-output", "default", "")
	i.Ensure(t)
	const size = 300 << 10
	// 300 KiB of numbered lines on stdout, 200 KiB on stderr.
	gen := func(n int, prefix string) string {
		var b strings.Builder
		for k := 0; b.Len() < n; k++ {
			fmt.Fprintf(&b, "%s%07d\n", prefix, k)
		}
		return b.String()[:n]
	}
	wantOut, wantErr := gen(size, "line "), gen(200<<10, "err ")
	cmd := fmt.Sprintf(`i=0; while :; do printf 'line %%07d\n' $i; i=$((i+1)); done | head -c %d; i=0; while :; do printf 'err %%07d\n' $i; i=$((i+1)); done | head -c %d >&2`, size, 200<<10)
	o := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, map[string]any{"command": cmd})
	if !o.Success {
		t.Fatalf("exit %d: %.300s", o.ExitCode, o.Stderr)
	}
	if !o.StdoutTruncated || len(o.Stdout) != 128<<10 || o.Stdout != wantOut[:128<<10] {
		t.Errorf("stdoutTruncated %v, %d bytes of stdout in the reply, want true and the first 131072", o.StdoutTruncated, len(o.Stdout))
	}
	if !o.StderrTruncated || len(o.Stderr) != 128<<10 || o.Stderr != wantErr[:128<<10] {
		t.Errorf("stderrTruncated %v, %d bytes of stderr in the reply, want true and the first 131072", o.StderrTruncated, len(o.Stderr))
	}

	cases := []struct {
		stream string
		limit  int64
		want   string
	}{
		{"stdout", 100000, wantOut},
		{"stderr", 64 << 10, wantErr},
		{"", 1 << 20, wantOut}, // stdout by default, in one piece
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s by %d", c.stream, c.limit), func(t *testing.T) {
			var got strings.Builder
			pieces := 0
			for off := int64(0); ; pieces++ {
				in := map[string]any{"execId": o.ExecID, "offset": off, "limit": c.limit}
				if c.stream != "" {
					in["stream"] = c.stream
				}
				p := sandboxtest.Must[methods.GetExecOutputOutput](t, i, methods.GetExecOutput, in)
				if p.Offset != off || p.TotalSize != int64(len(c.want)) || int64(len(p.Data)) > c.limit {
					t.Fatalf("piece at %d: offset %d totalSize %d, %d bytes", off, p.Offset, p.TotalSize, len(p.Data))
				}
				got.WriteString(p.Data)
				off += int64(len(p.Data))
				if p.EOF {
					break
				}
				if len(p.Data) == 0 || pieces > 100 {
					t.Fatalf("no progress at offset %d", off)
				}
			}
			if got.String() != c.want {
				t.Errorf("the pieces make %d bytes, not the %d the command wrote", got.Len(), len(c.want))
			}
			if want := (len(c.want) + int(c.limit) - 1) / int(c.limit); pieces+1 != want {
				t.Errorf("%d pieces, want %d", pieces+1, want)
			}
		})
	}
	t.Run("past the end", func(t *testing.T) {
		p := sandboxtest.Must[methods.GetExecOutputOutput](t, i, methods.GetExecOutput, map[string]any{"execId": o.ExecID, "offset": size + 10})
		if p.Data != "" || !p.EOF {
			t.Errorf("got %d bytes, eof %v", len(p.Data), p.EOF)
		}
	})
	bad := []struct {
		name string
		in   map[string]any
		want methods.ErrorType
	}{
		{"unknown exec", map[string]any{"execId": "exe_nope"}, methods.NotFound},
		{"bad stream", map[string]any{"execId": o.ExecID, "stream": "both"}, methods.InvalidInput},
		{"negative offset", map[string]any{"execId": o.ExecID, "offset": -1}, methods.InvalidInput},
		{"zero limit", map[string]any{"execId": o.ExecID, "limit": 0}, methods.InvalidInput},
		{"limit over 1 MiB", map[string]any{"execId": o.ExecID, "limit": 1<<20 + 1}, methods.InvalidInput},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			sandboxtest.WantErr(t, "getExecOutput", i.Call(methods.GetExecOutput, c.in, nil), c.want)
		})
	}
	t.Run("another instance's exec is not found", func(t *testing.T) {
		j := e.Instance("big-output-other", "default", "")
		for _, m := range []string{methods.GetExecOutput, methods.CancelExec} {
			sandboxtest.WantErr(t, m, j.Call(m, map[string]any{"execId": o.ExecID}, nil), methods.NotFound)
		}
	})
}

// TestSandboxExecCancelAndHistory: a running command is cancelled by its
// execId; listExecs is the history, newest first, with statuses.
func TestSandboxExecCancelAndHistory(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("history", "default", "")
	i.Ensure(t)

	ran := []struct {
		command   string
		timeoutMs int
		status    string
		exitCode  int
	}{
		{"true", 0, "completed", 0},
		{"exit 4", 0, "completed", 4},
		{"sleep 10", 200, "timed_out", 137},
	}
	for _, r := range ran {
		in := map[string]any{"command": r.command}
		if r.timeoutMs > 0 {
			in["timeoutMs"] = r.timeoutMs
		}
		sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, in)
	}

	type result struct {
		out methods.InstanceExecInSandboxOutputFull
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.err = i.Call(methods.ExecInSandbox, map[string]any{"command": "sleep 30"}, &r.out)
		done <- r
	}()
	var running methods.ExecSummary
	testutil.Eventually(t, testutil.Medium, "sleep 30 listed as running", func() bool {
		l := sandboxtest.Must[methods.ListExecsOutput](t, i, methods.ListExecs, struct{}{})
		for _, x := range l.Execs {
			if x.Command == "sleep 30" && x.Status == "running" {
				running = x
				return true
			}
		}
		return false
	})
	if running.ExitCode != nil || running.FinishedAt != nil {
		t.Errorf("a running exec has exitCode %v finishedAt %v", running.ExitCode, running.FinishedAt)
	}
	c := sandboxtest.Must[methods.CancelExecOutput](t, i, methods.CancelExec, map[string]any{"execId": running.ExecID})
	if !c.OK || !c.Cancelled {
		t.Errorf("cancelExec = %+v, want ok and cancelled", c)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("the cancelled exec answered %v", r.err)
	}
	if !r.out.Cancelled || r.out.Success || r.out.ExecID != running.ExecID {
		t.Errorf("the cancelled exec answered %+v", r.out)
	}
	again := sandboxtest.Must[methods.CancelExecOutput](t, i, methods.CancelExec, map[string]any{"execId": running.ExecID})
	if !again.OK || again.Cancelled {
		t.Errorf("cancelling a finished exec = %+v, want ok and not cancelled", again)
	}

	l := sandboxtest.Must[methods.ListExecsOutput](t, i, methods.ListExecs, struct{}{})
	want := []struct {
		command, status string
		exitCode        int
	}{{"sleep 30", "cancelled", 137}}
	for k := len(ran) - 1; k >= 0; k-- {
		want = append(want, struct {
			command, status string
			exitCode        int
		}{ran[k].command, ran[k].status, ran[k].exitCode})
	}
	if l.Total != len(want) || len(l.Execs) != len(want) {
		t.Fatalf("listExecs: total %d, %d execs, want %d", l.Total, len(l.Execs), len(want))
	}
	for k, w := range want {
		x := l.Execs[k]
		if x.Command != w.command || x.Status != w.status || x.ExitCode == nil || *x.ExitCode != w.exitCode ||
			x.FinishedAt == nil || x.DurationMs == nil || x.StartedAt == "" || x.SandboxID == "" {
			t.Errorf("execs[%d] = %+v, want %s %s exit %d", k, x, w.command, w.status, w.exitCode)
		}
		if k > 0 && x.StartedAt > l.Execs[k-1].StartedAt {
			t.Errorf("execs[%d] started after execs[%d]: not newest first", k, k-1)
		}
	}
	t.Run("paging", func(t *testing.T) {
		cases := []struct{ limit, offset, want int }{{2, 0, 2}, {2, 2, 2}, {2, 3, 1}, {10, 4, 0}}
		for _, c := range cases {
			p := sandboxtest.Must[methods.ListExecsOutput](t, i, methods.ListExecs, map[string]any{"limit": c.limit, "offset": c.offset})
			if len(p.Execs) != c.want || p.Total != len(want) {
				t.Errorf("limit %d offset %d: %d execs of %d, want %d", c.limit, c.offset, len(p.Execs), p.Total, c.want)
				continue
			}
			for k, x := range p.Execs {
				if x.ExecID != l.Execs[c.offset+k].ExecID {
					t.Errorf("limit %d offset %d: execs[%d] = %s, want %s", c.limit, c.offset, k, x.ExecID, l.Execs[c.offset+k].ExecID)
				}
			}
		}
	})
}

// TestSandboxExecConcurrent: many commands at once in one sandbox.
func TestSandboxExecConcurrent(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("concurrent", "default", "")
	i.Ensure(t)
	const n = 20
	var wg sync.WaitGroup
	outs := make([]methods.InstanceExecInSandboxOutputFull, n)
	errs := make([]error, n)
	for k := 0; k < n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = i.Call(methods.ExecInSandbox, map[string]any{"command": `sleep 0.3; echo "n=$N"`,
				"env": map[string]string{"N": fmt.Sprint(k)}}, &outs[k])
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	for k := 0; k < n; k++ {
		if errs[k] != nil {
			t.Errorf("exec %d: %v", k, errs[k])
			continue
		}
		if !outs[k].Success || outs[k].Stdout != fmt.Sprintf("n=%d\n", k) {
			t.Errorf("exec %d: %+v", k, outs[k])
		}
		ids[outs[k].ExecID] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct execIds for %d commands", len(ids), n)
	}
	l := sandboxtest.Must[methods.ListExecsOutput](t, i, methods.ListExecs, map[string]any{"limit": 100})
	for _, x := range l.Execs {
		if x.Status != "completed" {
			t.Errorf("exec %s is %s", x.ExecID, x.Status)
		}
	}
}

// TestSandboxExecPaused: a command sent to a paused sandbox resumes it and
// runs, whoever paused it.
func TestSandboxExecPaused(t *testing.T) {
	e := sandboxtest.Start(t, platform.Config{})
	i := e.Instance("paused-exec", "default", "")
	id := i.Ensure(t)
	cases := []struct {
		name string
		in   map[string]any
	}{
		{"a command", map[string]any{"command": "echo back"}},
		{"a command with a timeout", map[string]any{"command": "echo back", "timeoutMs": 5000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sandboxtest.Must[methods.OKOutput](t, i, methods.PauseSandbox, map[string]any{"sandboxId": id})
			if s := i.SandboxState(); s != methods.SandboxPaused {
				t.Fatalf("sandbox state = %q, want paused", s)
			}
			out := sandboxtest.Must[methods.InstanceExecInSandboxOutputFull](t, i, methods.ExecInSandbox, c.in)
			if !out.Success || strings.TrimSpace(out.Stdout) != "back" {
				t.Fatalf("exec on a paused sandbox = %+v, want it resumed and run", out)
			}
			if s := i.SandboxState(); s != methods.SandboxRunning {
				t.Fatalf("sandbox state after the exec = %q, want running", s)
			}
		})
	}
	if n := len(i.Events("sandbox_running")); n < 3 {
		t.Errorf("%d sandbox_running events, want the start and one resume per command", n)
	}
}
