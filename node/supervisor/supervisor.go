package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Supervisor runs one sandbox's processes.
type Supervisor struct {
	// spec changes once at most: when a warm pool member is claimed.
	spec atomic.Pointer[Spec]
	rp   *reaper
	log  *logFile

	mu       sync.Mutex
	cond     *sync.Cond
	events   []Event // the last maxEvents
	seq      int64
	status   Status
	agentPID int
	restart  chan struct{}
	stopping bool
	execs    map[string]*runningExec
	// early holds cancels that came before their command: the platform
	// lists a command as running before it reaches the supervisor.
	early map[string]bool
	done  chan struct{}
}

type runningExec struct {
	pid       int // 0 until it starts
	cancelled bool
}

const maxEvents = 1000

// Run starts a supervisor for the spec in path and serves until shut down.
func Run(specPath string) error {
	mainAt := time.Now().UnixMicro()
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("spec %s: %w", specPath, err)
	}
	if spec.MaxLogBytes <= 0 {
		spec.MaxLogBytes = 4 << 20
	}
	if err := os.MkdirAll(filepath.Join(spec.RunDir, ExecsDir), 0o755); err != nil {
		return err
	}
	lf, err := openLog(filepath.Join(spec.RunDir, LogName), spec.MaxLogBytes)
	if err != nil {
		return err
	}
	s := &Supervisor{rp: newReaper(), log: lf, restart: make(chan struct{}, 1),
		execs: map[string]*runningExec{}, early: map[string]bool{}, done: make(chan struct{})}
	s.spec.Store(&spec)
	s.cond = sync.NewCond(&s.mu)
	s.status = Status{Agent: "none", StartedAt: time.Now().UnixMilli(), MainAtUs: mainAt}

	sock := filepath.Join(spec.RunDir, SocketName)
	_ = os.Remove(sock)
	ln, err := ListenSocket(sock)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.api(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()

	sigs := make(chan os.Signal, 1)
	signalNotify(sigs)
	go func() {
		<-sigs
		s.shutdown()
	}()

	if len(spec.Entrypoint) > 0 && !spec.Pool {
		go s.agentLoop()
	}
	<-s.done
	_ = srv.Close()
	return nil
}

// cur is the sandbox's spec.
func (s *Supervisor) cur() *Spec { return s.spec.Load() }

// claim makes a warm pool member the sandbox c names and starts its
// agent. A sandbox is claimed once: a second claim, or one of a sandbox
// that was never a member, is refused.
func (s *Supervisor) claim(c Claim) error {
	s.mu.Lock()
	old := s.cur()
	if !old.Pool || s.stopping {
		s.mu.Unlock()
		return errNotMember
	}
	next := *old
	next.Pool = false
	next.SandboxID, next.InstanceID, next.Token = c.SandboxID, c.InstanceID, c.Token
	next.Entrypoint, next.Env, next.Health, next.AgentPort = c.Entrypoint, c.Env, c.Health, c.AgentPort
	if c.AgentDir != "" {
		next.AgentDir = c.AgentDir
	}
	s.spec.Store(&next)
	s.mu.Unlock()
	if len(next.Entrypoint) > 0 {
		go s.agentLoop()
	}
	return nil
}

var errNotMember = errors.New("this sandbox is not an unclaimed warm pool member")

func (s *Supervisor) emit(typ string, code *int, detail string) {
	s.mu.Lock()
	s.seq++
	s.events = append(s.events, Event{Seq: s.seq, Time: time.Now().UnixMilli(), Type: typ, Code: code, Detail: detail})
	if len(s.events) > maxEvents {
		s.events = s.events[len(s.events)-maxEvents:]
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *Supervisor) baseEnv() []string {
	env := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": s.cur().Workspace, "LANG": "C.UTF-8",
		"ROOST_INSTANCE_ID": s.cur().InstanceID, "ROOST_SANDBOX_ID": s.cur().SandboxID,
		"ROOST_SANDBOX_TOKEN": s.cur().Token, "ROOST_WORKSPACE": s.cur().Workspace,
	}
	if s.cur().AgentPort > 0 {
		env["ROOST_AGENT_ADDR"] = "127.0.0.1:" + strconv.Itoa(s.cur().AgentPort)
	}
	for k, v := range s.cur().Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// agentLoop keeps the agent running: it restarts it after every exit with
// a backoff from 1 s to 30 s, reset once a run lasted a minute.
func (s *Supervisor) agentLoop() {
	failures := 0
	for {
		s.mu.Lock()
		if s.stopping {
			s.mu.Unlock()
			return
		}
		s.status.Agent = "starting"
		s.mu.Unlock()

		started := time.Now()
		code, err := s.runAgent()
		if err != nil {
			s.log.Line("agent did not start: " + err.Error())
			c := 127
			code = c
		}
		s.mu.Lock()
		stopping := s.stopping
		s.agentPID = 0
		s.status.PID = 0
		c := code
		s.status.LastExit = &c
		s.status.Healthy = false
		s.mu.Unlock()
		detail := fmt.Sprintf("agent exited with code %d", code)
		if err != nil {
			detail = "agent did not start: " + err.Error()
		}
		s.emit(EventAgentExited, &c, detail)
		if stopping {
			return
		}
		if time.Since(started) > time.Minute {
			failures = 0
		}
		delay := time.Second << min(failures, 5)
		if delay > 30*time.Second {
			delay = 30 * time.Second
		}
		failures++
		s.mu.Lock()
		s.status.Agent = "backoff"
		s.status.Restarts++
		s.mu.Unlock()
		s.log.Line(fmt.Sprintf("%s; restarting in %s", detail, delay))
		select {
		case <-time.After(delay):
		case <-s.restart:
			failures = 0
		case <-s.done:
			return
		}
	}
}

// runAgent starts the agent once and waits for it.
func (s *Supervisor) runAgent() (int, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	argv := s.cur().Entrypoint
	path := argv[0]
	if filepath.Base(path) == path {
		if p, err := exec.LookPath(path); err == nil {
			path = p
		} else if _, err := os.Stat(filepath.Join(s.cur().AgentDir, path)); err == nil {
			path = filepath.Join(s.cur().AgentDir, path)
		}
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(s.cur().AgentDir, path)
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Dir: s.cur().AgentDir, Env: s.baseEnv(),
		Stdout: pw, Stderr: pw, SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 0, err
	}
	pw.Close()
	pid := cmd.Process.Pid
	oomReachable(pid)
	exited := s.rp.wait(pid)
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(s.log, pr)
		pr.Close()
		close(copied)
	}()
	s.mu.Lock()
	s.agentPID = pid
	s.status.Agent, s.status.PID = "running", pid
	s.mu.Unlock()
	s.emit(EventAgentStarted, nil, fmt.Sprintf("agent started: %v", argv))
	s.log.Line(fmt.Sprintf("agent started (pid %d): %v", pid, argv))

	hctx, hcancel := context.WithCancel(context.Background())
	if s.cur().Health != "" && s.cur().AgentPort > 0 {
		go s.watchHealth(hctx)
	} else {
		s.setHealthy()
	}
	ws := <-exited
	hcancel()
	// The agent's own children may hold the pipe; do not wait on them forever.
	select {
	case <-copied:
	case <-time.After(time.Second):
	}
	return exitCode(ws), nil
}

func (s *Supervisor) setHealthy() {
	s.mu.Lock()
	s.status.Healthy = true
	s.mu.Unlock()
	s.emit(EventAgentHealthy, nil, "agent is up")
}

// watchHealth polls the agent's health path until it answers 200.
func (s *Supervisor) watchHealth(ctx context.Context) {
	url := fmt.Sprintf("http://127.0.0.1:%d%s", s.cur().AgentPort, s.cur().Health)
	hc := &http.Client{Timeout: 2 * time.Second}
	// The instance is ready only once a check passes, and an agent is
	// often up within a few ms: check every 2 ms for the first 100 ms (a
	// refused connect costs microseconds), every 10 ms to the first
	// second, then back off.
	start := time.Now()
	for wait := 2 * time.Millisecond; ; {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		switch since := time.Since(start); {
		case since < 100*time.Millisecond:
		case since < time.Second:
			wait = 10 * time.Millisecond
		case wait < 500*time.Millisecond:
			wait *= 2
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			s.setHealthy()
			return
		}
	}
}

// stopAgent ends the agent's process group: SIGTERM, then SIGKILL after
// grace.
func (s *Supervisor) stopAgent(grace time.Duration) {
	s.mu.Lock()
	pid := s.agentPID
	s.mu.Unlock()
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		s.mu.Lock()
		still := s.agentPID == pid
		s.mu.Unlock()
		if !still {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// RestartAgent stops the agent and starts it again at once.
func (s *Supervisor) restartAgent() {
	select {
	case s.restart <- struct{}{}:
	default:
	}
	s.stopAgent(5 * time.Second)
}

func (s *Supervisor) shutdown() {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	s.stopping = true
	pids := []int{}
	for _, e := range s.execs {
		if e.pid > 0 {
			pids = append(pids, e.pid)
		}
	}
	s.mu.Unlock()
	s.stopAgent(5 * time.Second)
	for _, p := range pids {
		_ = syscall.Kill(-p, syscall.SIGKILL)
	}
	s.emit(EventAgentStopped, nil, "sandbox stopping")
	close(s.done)
}

// exec runs one command with bash -lc in the workspace, its output to
// files, killed at its timeout or when cancelled.
func (s *Supervisor) exec(req ExecRequest) (ExecResult, error) {
	res := ExecResult{ExecID: req.ExecID}
	if req.ExecID == "" || filepath.Base(req.ExecID) != req.ExecID {
		return res, errors.New("exec id must be a plain name")
	}
	base := filepath.Join(s.cur().RunDir, ExecsDir, req.ExecID)
	// Registered before its output files exist: cancelExec tells a command
	// still to come from one that finished by them.
	re := &runningExec{}
	s.mu.Lock()
	if _, dup := s.execs[req.ExecID]; dup {
		s.mu.Unlock()
		return res, errors.New("a command with this id runs already")
	}
	re.cancelled = s.early[req.ExecID]
	delete(s.early, req.ExecID)
	s.execs[req.ExecID] = re
	s.status.Execs = len(s.execs)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.execs, req.ExecID)
		s.status.Execs = len(s.execs)
		s.mu.Unlock()
	}()
	stdout, err := os.OpenFile(base+".stdout", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return res, err
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(base+".stderr", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return res, err
	}
	defer stderr.Close()
	env := s.baseEnv()
	for k, v := range req.Env {
		env = append(env, k+"="+v)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		bash = "/bin/sh"
	}
	cmd := &exec.Cmd{Path: bash, Args: []string{"bash", "-lc", req.Command}, Dir: s.cur().Workspace, Env: env,
		Stdin: nil, Stdout: stdout, Stderr: stderr, SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	pid := cmd.Process.Pid
	oomReachable(pid)
	exited := s.rp.wait(pid)
	s.mu.Lock()
	re.pid = pid
	cancelled := re.cancelled
	s.mu.Unlock()
	if cancelled {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	timeout := time.Duration(req.TimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var ws syscall.WaitStatus
	select {
	case ws = <-exited:
	case <-timer.C:
		res.TimedOut = true
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		ws = <-exited
	}
	// Whatever the command left behind in its group goes with it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	res.DurationMs = time.Since(start).Milliseconds()
	res.ExitCode = exitCode(ws)
	s.mu.Lock()
	res.Cancelled = re.cancelled
	s.mu.Unlock()
	res.Stdout, res.StdoutSize, res.StdoutTruncated = head(base + ".stdout")
	res.Stderr, res.StderrSize, res.StderrTruncated = head(base + ".stderr")
	return res, nil
}

// oomReachable makes a process the supervisor started the OOM killer's
// first choice (oom_score_adj 1000): when the sandbox runs out of memory
// (a full tmpfs holds pages no process owns), a command or the agent is
// killed, not the supervisor. Where the node may, it also keeps the
// supervisor out of the OOM killer's reach (-1000).
func oomReachable(pid int) {
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("1000"), 0)
	// The supervisor lives in a memory group of its own, outside the
	// sandbox's limit (cgroup v1 nodes); what it starts belongs in the
	// sandbox's, whose procs file the node gave it.
	if f, err := os.OpenFile(workProcs, os.O_WRONLY, 0); err == nil {
		_, _ = f.WriteString(strconv.Itoa(pid))
		f.Close()
	}
}

// workProcs is where the node puts the procs file of the sandbox's memory
// group (node.WorkProcsInside).
const workProcs = "/roost/memory.procs"

func head(path string) (string, int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, false
	}
	// Sized to what there is: most commands print little.
	b := make([]byte, min(st.Size(), MaxReplyOutput))
	n, _ := io.ReadFull(f, b)
	return string(b[:n]), st.Size(), st.Size() > MaxReplyOutput
}

// cancelExec kills a running command's group. A command that has not
// arrived yet (no output file) is killed as soon as it starts.
func (s *Supervisor) cancelExec(id string) bool {
	if id == "" || filepath.Base(id) != id {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.execs[id]; ok {
		e.cancelled = true
		if e.pid > 0 {
			_ = syscall.Kill(-e.pid, syscall.SIGKILL)
		}
		return true
	}
	if _, err := os.Stat(filepath.Join(s.cur().RunDir, ExecsDir, id+".stdout")); !errors.Is(err, os.ErrNotExist) {
		return false // it ran and finished
	}
	if len(s.early) >= 4096 { // cancels of commands that never came
		s.early = map[string]bool{}
	}
	s.early[id] = true
	return true
}
