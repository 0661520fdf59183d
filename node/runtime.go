package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/supervisor"
)

// refusal is an error of the runtime with the code the node API answers it
// with.
type refusal struct {
	code nodeapi.ErrorCode
	msg  string
}

func (e *refusal) Error() string { return e.msg }

// Errors of the runtime.
var (
	errNoSandbox = &refusal{nodeapi.CodeNoSandbox, "no such sandbox on this node"}
	errStarting  = &refusal{nodeapi.CodeStarting, "the sandbox is still starting on this node"}
	errPaused    = &refusal{nodeapi.CodePaused, "the sandbox is paused"}
)

// firstUID is the first host uid given to sandboxes; each sandbox runs as
// its own unprivileged uid.
const firstUID = 200000

// runtime runs the sandboxes of a node.
type runtime struct {
	dir     string // DataDir/sandboxes
	exe     string // this binary, for sandbox-init
	initExe string // roost-sandbox-init, or "" to start exe sandbox-init
	// slots bounds the starts under way: a burst of starts on a small
	// machine queues instead of timing out in the kernel's run queue.
	slots   chan struct{}
	bwrap   string // "" without bubblewrap
	cg      *cgroups
	bundles *bundleCache
	log     *slog.Logger
	report  func(nodeapi.SandboxEvent) error

	mu        sync.Mutex
	sandboxes map[string]*sbox
	// starting holds the sandboxes whose first start is under way; each
	// channel closes when it is done.
	starting map[string]chan struct{}
	// uids holds the uids allocUID handed out, until their sandbox stops:
	// sandboxes starting at once must not both take the first free one.
	uids   map[int]bool
	closed bool
	// pool holds the warm pools (pool.go).
	pool warmPools
}

// sbox is one sandbox on the node.
type sbox struct {
	spec    nodeapi.SandboxSpec
	dir     string
	uid     int
	limits  nodeapi.Limits
	isol    string
	cg      *sandboxCgroup
	pid     int // the process that holds the sandbox (bwrap or the supervisor)
	paused  bool
	stopped chan struct{}
	client  *http.Client // to the supervisor's socket
	cancel  context.CancelFunc
	exited  chan struct{} // closed when the process the node started is gone
	endOnce sync.Once
	// cgName names the sandbox's cgroups: its id, or the id it had as a
	// warm pool member.
	cgName string
	// pool is the key of the warm pool it was started for ("" for none),
	// and poolState where it is in it (r.mu).
	pool      string
	poolState memberState
	// timings of its start, for the node's metrics; spawned is when its
	// first process started.
	timings nodeapi.StartTimings
	spawned time.Time
}

func (s *sbox) runDir() string    { return filepath.Join(s.dir, "run") }
func (s *sbox) workspace() string { return filepath.Join(s.dir, "workspace") }
func (s *sbox) specPath() string  { return filepath.Join(s.dir, "spec.json") }
func (s *sbox) pidPath() string   { return filepath.Join(s.dir, "pid") }
func (s *sbox) seqPath() string   { return filepath.Join(s.dir, "events.seq") }

// cgroupName is the name of the cgroups of the sandbox in dir: its id, or
// the one its cgroup file names (a claimed warm pool member's).
func cgroupName(dir, id string) string {
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil && idForm(strings.TrimSpace(string(b))) {
		return strings.TrimSpace(string(b))
	}
	return id
}

// runtimeOptions configure a runtime (see Options).
type runtimeOptions struct {
	dataDir, exe, initExe string
	maxStarts             int
	log                   *slog.Logger
	fetch                 func(context.Context, string) (io.ReadCloser, error)
	report                func(nodeapi.SandboxEvent) error
}

func newRuntime(o runtimeOptions) (*runtime, error) {
	exe := o.exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
		// A test binary is not roost: starting it as sandbox-init would
		// run the test suite again, inside every sandbox.
		if strings.HasSuffix(exe, ".test") {
			exe = ""
		}
	}
	initExe := o.initExe
	if initExe == "" && exe != "" {
		if p := filepath.Join(filepath.Dir(exe), "roost-sandbox-init"); isExecutable(p) {
			initExe = p
		}
	}
	if o.maxStarts <= 0 {
		o.maxStarts = 2 * goruntime.NumCPU()
	}
	r := &runtime{
		dir: filepath.Join(o.dataDir, "sandboxes"), exe: exe, initExe: initExe, log: o.log, report: o.report,
		bundles:   &bundleCache{dir: filepath.Join(o.dataDir, "bundles"), fetch: o.fetch},
		sandboxes: map[string]*sbox{}, starting: map[string]chan struct{}{}, uids: map[int]bool{},
		slots: make(chan struct{}, o.maxStarts), pool: newWarmPools(),
	}
	go r.poolLoop()
	dataDir := o.dataDir
	log := o.log
	if p, err := exec.LookPath("bwrap"); err == nil {
		r.bwrap = p
	}
	if os.Geteuid() == 0 {
		r.cg = detectCgroups("")
	} else {
		r.cg = &cgroups{v1: map[string]string{}}
	}
	// Sandboxes' uids must reach their own directories under the data dir,
	// and nothing else in it.
	if err := os.MkdirAll(r.dir, 0o711); err != nil {
		return nil, err
	}
	_ = os.Chmod(dataDir, 0o711)
	_ = os.Chmod(r.dir, 0o711)
	if os.Geteuid() == 0 {
		if p := unreachable(r.dir); p != "" {
			log.Warn("sandboxes run as unprivileged users who cannot reach the node's data dir; make its parents searchable (chmod o+x)", "dir", p)
		}
	}
	return r, nil
}

// ids lists the sandboxes this node runs.
func (r *runtime) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.sandboxes))
	for id := range r.sandboxes {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (r *runtime) get(id string) (*sbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[id]
	switch {
	case ok:
		return s, nil
	case r.starting[id] != nil:
		return nil, errStarting
	}
	return nil, errNoSandbox
}

// getStarted is get, after waiting for a start under way to end.
func (r *runtime) getStarted(ctx context.Context, id string) (*sbox, error) {
	r.mu.Lock()
	done := r.starting[id]
	r.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, errStarting
		}
	}
	return r.get(id)
}

func (r *runtime) info(s *sbox) nodeapi.SandboxInfo {
	inf, _ := r.infoStatus(s)
	return inf
}

// infoStatus is info with the supervisor's status it read.
func (r *runtime) infoStatus(s *sbox) (nodeapi.SandboxInfo, supervisor.Status) {
	var status supervisor.Status
	st := "running"
	if s.paused {
		st = "paused"
	}
	select {
	case <-s.stopped:
		st = "stopped"
	default:
	}
	inf := nodeapi.SandboxInfo{SandboxID: s.spec.SandboxID, InstanceID: s.spec.InstanceID, State: st,
		Isolation: s.isol, Limits: s.limits, Warm: s.pool != ""}
	if st == "running" {
		if err := s.getJSON(context.Background(), supervisor.StatusPath, &status); err == nil {
			inf.Agent, inf.Healthy = status.Agent, status.Healthy
		}
	}
	return inf, status
}

// allocUID picks a host uid no other sandbox of this node uses.
func (r *runtime) allocUID() int {
	used := map[int]bool{}
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		if st, err := os.Stat(filepath.Join(r.dir, e.Name(), "workspace")); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				used[int(sys.Uid)] = true
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sandboxes {
		used[s.uid] = true
	}
	for uid := range r.uids {
		used[uid] = true
	}
	for uid := firstUID; ; uid++ {
		if !used[uid] {
			r.uids[uid] = true
			return uid
		}
	}
}

var idForm = func(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// create starts a sandbox (or returns the running one with that id).
func (r *runtime) create(ctx context.Context, spec nodeapi.SandboxSpec) (nodeapi.SandboxInfo, error) {
	if !idForm(spec.SandboxID) {
		return nodeapi.SandboxInfo{}, fmt.Errorf("sandbox id %q is not valid", spec.SandboxID)
	}

	r.mu.Lock()
	if s, ok := r.sandboxes[spec.SandboxID]; ok {
		r.mu.Unlock()
		return r.info(s), nil
	}
	if r.starting[spec.SandboxID] != nil {
		r.mu.Unlock()
		return nodeapi.SandboxInfo{}, errStarting
	}
	done := make(chan struct{})
	r.starting[spec.SandboxID] = done
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.starting, spec.SandboxID)
		r.mu.Unlock()
		close(done)
	}()
	if s := r.claim(ctx, spec); s != nil {
		return r.info(s), nil
	}
	t0 := time.Now()
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		return nodeapi.SandboxInfo{}, ctx.Err()
	}
	queued := time.Since(t0)
	dir := filepath.Join(r.dir, spec.SandboxID)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nodeapi.SandboxInfo{}, err
	}
	if spec.ReuseWorkspace != "" {
		if _, err := os.Stat(filepath.Join(dir, "workspace")); errors.Is(err, os.ErrNotExist) {
			if err := r.takeWorkspace(spec.ReuseWorkspace, dir); err != nil {
				return nodeapi.SandboxInfo{}, fmt.Errorf("take over the workspace of %s: %w", spec.ReuseWorkspace, err)
			}
		}
	}
	b, _ := json.Marshal(spec)
	if err := writeFileAtomic(filepath.Join(dir, "spec.json"), b, 0o600); err != nil {
		return nodeapi.SandboxInfo{}, err
	}
	s, err := r.start(ctx, spec, dir, "")
	if err != nil {
		return nodeapi.SandboxInfo{}, err
	}
	// One status read answers the start and times the spawn: the
	// supervisor's clock is the node's (both read the host's).
	inf, st := r.infoStatus(s)
	s.timings.QueuedUs = queued.Microseconds()
	if st.MainAtUs > 0 {
		s.timings.SpawnUs = max(0, st.MainAtUs-s.spawned.UnixMicro())
	}
	r.pool.recordStart(s.timings)
	return inf, nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// start brings up a sandbox's supervisor from its directory: first start,
// or again after a node restart (the workspace is kept). With a pool key,
// it starts a warm pool member of that pool instead: no agent, and an
// empty /agent that a claim fills.
func (r *runtime) start(ctx context.Context, spec nodeapi.SandboxSpec, dir, pool string) (_ *sbox, err error) {
	if r.exe == "" {
		return nil, errors.New("this node cannot run sandboxes: it has no roost executable to start them with (set the node's Executable)")
	}
	began := time.Now()
	s := &sbox{spec: spec, dir: dir, stopped: make(chan struct{}), pool: pool, cgName: cgroupName(dir, spec.SandboxID)}
	if pool != "" {
		s.poolState = memberStarting // poolStep makes it idle
	}
	if st, err := os.Stat(s.workspace()); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			s.uid = int(sys.Uid)
		}
	}
	if s.uid == 0 {
		s.uid = r.allocUID()
	}
	defer func() {
		if err != nil {
			// What a failed start took goes back.
			if s.cg != nil {
				s.cg.remove()
			}
			r.mu.Lock()
			delete(r.uids, s.uid)
			r.mu.Unlock()
		}
	}()
	root := os.Geteuid() == 0
	if err := os.MkdirAll(s.workspace(), 0o700); err != nil {
		return nil, err
	}
	_ = os.RemoveAll(s.runDir())
	// A new supervisor numbers its events from 1 again: forwarding resumes
	// from its first, not after the last of the one before.
	_ = os.Remove(s.seqPath())
	if err := os.MkdirAll(filepath.Join(s.runDir(), supervisor.ExecsDir), 0o700); err != nil {
		return nil, err
	}
	if root {
		for _, p := range []string{s.workspace(), s.runDir(), filepath.Join(s.runDir(), supervisor.ExecsDir)} {
			if err := os.Chown(p, s.uid, s.uid); err != nil {
				return nil, err
			}
		}
	}

	agentDir := ""
	if pool != "" {
		agentDir = filepath.Join(dir, "agent")
		if err := os.MkdirAll(agentDir, 0o755); err != nil {
			return nil, err
		}
	} else if spec.BundleRevisionID != "" {
		d, err := r.bundles.ensure(ctx, spec.BundleRevisionID, spec.BundleSHA256)
		if err != nil {
			return nil, err
		}
		agentDir = d
	}

	s.isol = nodeapi.IsolationNone
	if r.bwrap != "" && spec.Isolation != nodeapi.IsolationNone {
		s.isol = nodeapi.IsolationBubblewrap
	}
	sup := supervisor.Spec{SandboxID: spec.SandboxID, InstanceID: spec.InstanceID, Token: spec.Token,
		Entrypoint: spec.Entrypoint, Env: spec.Env, Health: spec.Health, AgentPort: spec.AgentPort}
	if s.isol == nodeapi.IsolationBubblewrap {
		sup.AgentDir, sup.Workspace, sup.RunDir = "/agent", "/workspace", "/run/roost"
	} else {
		sup.AgentDir, sup.Workspace, sup.RunDir = agentDir, s.workspace(), s.runDir()
		if agentDir == "" {
			sup.AgentDir = s.workspace()
		}
	}
	if spec.BundleRevisionID == "" && s.isol == nodeapi.IsolationBubblewrap {
		sup.AgentDir = "/workspace"
	}
	sup.Pool = pool != ""
	sb, _ := json.Marshal(sup)
	if err := os.WriteFile(filepath.Join(s.runDir(), "supervisor.json"), sb, 0o600); err != nil {
		return nil, err
	}
	if root {
		_ = os.Chown(filepath.Join(s.runDir(), "supervisor.json"), s.uid, s.uid)
	}

	if root {
		s.cg, s.limits = r.cg.create(s.cgName, spec)
	} else {
		s.cg, s.limits = &sandboxCgroup{dirs: map[string]string{}}, nodeapi.Limits{Freeze: "signals"}
	}

	var argv []string
	var extra []*os.File
	specInside := filepath.Join(s.runDir(), "supervisor.json")
	if s.isol == nodeapi.IsolationBubblewrap {
		if s.limits.Disk, err = s.mountWorkspace(spec.DiskMB); err != nil {
			return nil, err
		}
		if err := writeIdentity(s.runDir()); err != nil {
			return nil, err
		}
		specInside = "/run/roost/supervisor.json"
		argv = append([]string{r.bwrap}, bwrapArgs(r.exe, r.initExe, s, agentDir)...)
		if wp := s.cg.workProcs(); wp != "" && os.Chown(wp, s.uid, s.uid) == nil {
			// The supervisor moves what it starts into the sandbox's
			// memory group: it may write this one file of it.
			argv = append(argv, "--bind", wp, WorkProcsInside)
		}
		if prog, ok := seccompBytes(); ok {
			// bubblewrap reads the filter from fd 3 (the first extra file).
			sr, sw, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			_, err = sw.Write(prog)
			sw.Close()
			if err != nil {
				sr.Close()
				return nil, err
			}
			defer sr.Close()
			extra = append(extra, sr)
			argv = append(argv, "--seccomp", "3")
		}
		if r.initExe != "" {
			argv = append(argv, sandboxInitInside, specInside)
		} else {
			argv = append(argv, "/roost/bin/roost", "sandbox-init", specInside)
		}
	} else if r.initExe != "" {
		argv = []string{r.initExe, specInside}
	} else {
		argv = []string{r.exe, "sandbox-init", specInside}
	}
	// The sandbox's first process is a shell that runs as the sandbox's
	// uid and waits at a gate until the node has put it in the sandbox's
	// cgroups, then execs the rest: nothing runs in the sandbox before it
	// is limited and unprivileged. Without the node's word (the node died,
	// say) it exits instead. A shell starts in about a millisecond; this
	// binary, which did the same before (as sandbox-enter), took 7 to 9.
	argv = gated(argv)

	logf, err := os.OpenFile(filepath.Join(s.dir, "supervisor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = gateR, logf, logf
	cmd.ExtraFiles = extra
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	// A session of its own: it survives the node's exit, so a restarted
	// node re-attaches to it, and it has no terminal of the node's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if root {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.uid), Groups: []uint32{}}
	}
	prepared := time.Now()
	err = cmd.Start()
	gateR.Close()
	if err != nil {
		gateW.Close()
		logf.Close()
		return nil, err
	}
	pid := []byte(strconv.Itoa(cmd.Process.Pid))
	for _, f := range s.cg.procsFiles() {
		if err = os.WriteFile(f, pid, 0); err != nil {
			err = fmt.Errorf("join cgroup %s: %w", f, err)
			break
		}
	}
	if err == nil && root {
		// Where the node holds CAP_SYS_RESOURCE, the sandbox's first
		// process, and so bubblewrap and the supervisor after it, are out
		// of the OOM killer's reach. Either way the supervisor makes what
		// it starts the killer's first choice (oom_score_adj 1000).
		_ = os.WriteFile("/proc/"+string(pid)+"/oom_score_adj", []byte("-1000"), 0)
	}
	if err == nil {
		_, err = io.WriteString(gateW, "go\n")
	}
	gateW.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		return nil, err
	}
	logf.Close()
	s.pid = cmd.Process.Pid
	s.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exited) }()
	_ = os.WriteFile(s.pidPath(), []byte(strconv.Itoa(s.pid)), 0o600)

	s.client = unixClient(s.runDir())
	if err := waitSocket(ctx, s.runDir(), s.exited); err != nil {
		r.kill(s)
		out, _ := os.ReadFile(filepath.Join(s.dir, "supervisor.log"))
		return nil, fmt.Errorf("sandbox did not start: %w: %s", err, lastLines(string(out), 5))
	}
	up := time.Now()
	s.timings = nodeapi.StartTimings{PrepareUs: prepared.Sub(began).Microseconds(), SupervisorUs: up.Sub(prepared).Microseconds()}
	s.spawned = prepared
	if pool == "" {
		// Attached first: onExit reads what attach sets.
		r.attach(s)
	}
	go r.watchExit(s)
	return s, nil
}

// watchExit waits for the end of the process the node started and then
// ends the sandbox, or drops the warm pool member it was.
func (r *runtime) watchExit(s *sbox) {
	<-s.exited
	r.mu.Lock()
	st := s.poolState
	if s.pool == "" {
		st = memberClaimed
	}
	r.mu.Unlock()
	switch st {
	case memberStarting, memberIdle:
		// A member that was never a sandbox: nothing to report.
		r.dropMember(s)
	case memberClaiming:
		// The claim finds the supervisor gone and cleans up.
	default:
		r.onExit(s)
	}
}

// attach registers a live sandbox and starts forwarding its events.
func (r *runtime) attach(s *sbox) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	r.mu.Lock()
	r.sandboxes[s.spec.SandboxID] = s
	r.mu.Unlock()
	go r.forwardEvents(ctx, s)
}

func (r *runtime) onExit(s *sbox) {
	s.endOnce.Do(func() { r.end(s) })
}

func (r *runtime) end(s *sbox) {
	select {
	case <-s.stopped:
		return
	default:
	}
	close(s.stopped)
	if s.cancel != nil {
		s.cancel()
	}
	r.mu.Lock()
	if r.sandboxes[s.spec.SandboxID] == s {
		delete(r.sandboxes, s.spec.SandboxID)
	}
	closed := r.closed
	r.mu.Unlock()
	if !closed {
		_ = r.report(nodeapi.SandboxEvent{SandboxID: s.spec.SandboxID, Type: "sandbox_stopped", Time: time.Now().UnixMilli(),
			Detail: "the sandbox's supervisor exited"})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// writeIdentity gives the sandbox its own /etc/passwd and /etc/group with
// one user, roost (1000), instead of the host's.
func writeIdentity(runDir string) error {
	if err := os.WriteFile(filepath.Join(runDir, "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nroost:x:1000:1000:roost:/workspace:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(runDir, "group"), []byte("root:x:0:\nroost:x:1000:\nnogroup:x:65534:\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(runDir, "profile"), []byte(sandboxProfile), 0o644)
}

// sandboxProfile is the sandbox's /etc/profile, read by every login shell
// (execs run with bash -lc): what the host's would set, without its forks
// (id, completion scripts) that cost milliseconds per command.
const sandboxProfile = `# roost sandbox profile
export PATH=/usr/local/bin:/usr/bin:/bin
export LANG=${LANG:-C.UTF-8}
umask 022
`

// etcAllowed are the parts of the host's /etc a sandbox sees: what programs
// need to resolve names, find libraries and certificates, and no secrets.
var etcAllowed = []string{
	"/etc/alternatives", "/etc/ca-certificates", "/etc/ssl/certs", "/etc/ld.so.cache", "/etc/ld.so.conf",
	"/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf", "/etc/hosts", "/etc/resolv.conf",
	"/etc/host.conf", "/etc/bash.bashrc", "/etc/mime.types",
	"/etc/protocols", "/etc/services", "/etc/timezone", "/etc/os-release", "/etc/debian_version",
	"/etc/python3", "/etc/python3.11", "/etc/gitconfig", "/etc/inputrc", "/etc/terminfo",
}

// bwrapArgs builds the sandbox: new pid, mount, ipc, uts, user (and, for
// network "none", net) namespaces; the host's /usr read-only; only parts of
// /etc; private /tmp; the workspace writable; the bundle read-only; no
// capabilities; uid 1000 inside, the sandbox's own uid outside.
func bwrapArgs(exe, initExe string, s *sbox, agentDir string) []string {
	a := []string{
		"--unshare-user", "--uid", "1000", "--gid", "1000",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--hostname", "sandbox", "--as-pid-1", "--new-session", "--cap-drop", "ALL",
		"--ro-bind", "/usr", "/usr",
		"--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
		"--symlink", "usr/lib", "/lib",
		"--proc", "/proc", "--dev", "/dev",
		"--dir", "/etc",
	}
	// /tmp and /dev/shm hold at most the template's tmpMb each, /run a
	// little: their pages count in the sandbox's memory, and a full tmpfs
	// is ENOSPC for the writer, not an out-of-memory kill of the sandbox.
	if s.spec.TmpMB > 0 {
		size := strconv.FormatInt(int64(s.spec.TmpMB)<<20, 10)
		a = append(a, "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm", "--size", strconv.Itoa(16<<20), "--tmpfs", "/run")
	} else {
		a = append(a, "--tmpfs", "/tmp", "--tmpfs", "/run")
	}
	if _, err := os.Stat("/usr/lib64"); err == nil {
		a = append(a, "--symlink", "usr/lib64", "/lib64")
	}
	if s.spec.Network != "full" {
		a = append(a, "--unshare-net")
	}
	for _, p := range etcAllowed {
		if _, err := os.Stat(p); err == nil {
			a = append(a, "--ro-bind", p, p)
		}
	}
	a = append(a,
		"--ro-bind", filepath.Join(s.runDir(), "passwd"), "/etc/passwd",
		"--ro-bind", filepath.Join(s.runDir(), "group"), "/etc/group",
		"--ro-bind", filepath.Join(s.runDir(), "profile"), "/etc/profile",
		"--bind", s.workspace(), "/workspace",
		"--bind", s.runDir(), "/run/roost",
		"--chdir", "/workspace",
		"--setenv", "HOME", "/workspace",
	)
	if initExe != "" {
		a = append(a, "--ro-bind", initExe, sandboxInitInside)
	} else {
		a = append(a, "--ro-bind", exe, "/roost/bin/roost")
	}
	if agentDir != "" {
		a = append(a, "--ro-bind", agentDir, "/agent")
	}
	return a
}

// sandboxInitInside is where a sandbox sees roost-sandbox-init.
const sandboxInitInside = "/roost/bin/sandbox-init"

// isExecutable reports whether path is a regular file someone may run.
func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// unixClient talks to a sandbox's supervisor over the socket in its run
// directory, which the sandbox owns: dialBeneath refuses a planted link.
func unixClient(runDir string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialBeneath(ctx, runDir, supervisor.SocketName)
		},
		MaxIdleConnsPerHost: 16,
	}}
}

// waitSocket waits for the supervisor to answer on its socket.
func waitSocket(ctx context.Context, runDir string, exited <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	wait := 500 * time.Microsecond
	for {
		c, err := dialBeneath(ctx, runDir, supervisor.SocketName)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("the supervisor exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("the supervisor did not open its socket in 15 s")
		}
		time.Sleep(wait)
		// Dialling a unix socket costs microseconds: polling often keeps
		// the start as short as the supervisor makes it (a 20 ms step
		// added up to 15 ms to every cold start).
		if wait < time.Millisecond {
			wait *= 2
		}
	}
}

func (s *sbox) url(path string) string { return "http://sandbox" + path }

func (s *sbox) getJSON(ctx context.Context, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func (s *sbox) postJSON(ctx context.Context, path string, in, out any) error {
	body, _ := json.Marshal(in)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url(path), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e nodeapi.ErrorResponse
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		if e.Code == "" {
			e.Code = nodeapi.CodeInternal
		}
		return &refusal{code: e.Code, msg: fmt.Sprintf("supervisor: %s (HTTP %d)", e.Error, resp.StatusCode)}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// forwardEvents streams the supervisor's events to the platform, resuming
// after the last one forwarded.
func (r *runtime) forwardEvents(ctx context.Context, s *sbox) {
	var since int64
	if b, err := os.ReadFile(s.seqPath()); err == nil {
		since, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url(supervisor.EventsPath+"?since="+strconv.FormatInt(since, 10)), nil)
		resp, err := s.client.Do(req)
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var e supervisor.Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			ev := nodeapi.SandboxEvent{SandboxID: s.spec.SandboxID, Type: e.Type, Code: e.Code, Detail: e.Detail, Time: e.Time}
			for ctx.Err() == nil {
				if err := r.report(ev); err == nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
			since = e.Seq
			_ = os.WriteFile(s.seqPath(), []byte(strconv.FormatInt(since, 10)), 0o600)
		}
		resp.Body.Close()
		select {
		case <-ctx.Done():
			return
		case <-s.stopped:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// restore re-attaches to sandboxes that outlived the node's last run, and
// starts again those whose supervisor is gone, from their workspaces.
func (r *runtime) restore(ctx context.Context) {
	r.dropStaleMembers()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !idForm(e.Name()) {
			continue
		}
		dir := filepath.Join(r.dir, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
		if err != nil {
			continue
		}
		var spec nodeapi.SandboxSpec
		if json.Unmarshal(b, &spec) != nil {
			continue
		}
		s := &sbox{spec: spec, dir: dir, stopped: make(chan struct{})}
		s.client = unixClient(s.runDir())
		pidb, _ := os.ReadFile(s.pidPath())
		s.pid, _ = strconv.Atoi(strings.TrimSpace(string(pidb)))
		var st supervisor.Status
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = s.getJSON(sctx, supervisor.StatusPath, &st)
		cancel()
		if err == nil && s.pid > 0 && syscall.Kill(s.pid, 0) == nil {
			if st, err := os.Stat(s.workspace()); err == nil {
				if sys, ok := st.Sys().(*syscall.Stat_t); ok {
					s.uid = int(sys.Uid)
				}
			}
			s.isol = nodeapi.IsolationNone
			if r.bwrap != "" && spec.Isolation != nodeapi.IsolationNone {
				s.isol = nodeapi.IsolationBubblewrap
			}
			s.cgName = cgroupName(dir, spec.SandboxID)
			if os.Geteuid() == 0 {
				s.cg, s.limits = r.cg.create(s.cgName, spec)
				s.limits.Disk = spec.DiskMB > 0 && mounted(s.workspace())
			} else {
				s.cg, s.limits = &sandboxCgroup{dirs: map[string]string{}}, nodeapi.Limits{Freeze: "signals"}
			}
			s.paused = spec.Paused
			r.attach(s)
			go r.watchPID(s)
			r.log.Info("re-attached to a running sandbox", "sandbox", spec.SandboxID)
			continue
		}
		r.log.Info("restarting a sandbox from its workspace", "sandbox", spec.SandboxID)
		if _, err := r.start(ctx, spec, dir, ""); err != nil {
			r.log.Error("sandbox did not restart", "sandbox", spec.SandboxID, "err", err)
			_ = r.report(nodeapi.SandboxEvent{SandboxID: spec.SandboxID, Type: "sandbox_failed", Time: time.Now().UnixMilli(),
				Detail: "the node restarted and could not start the sandbox again: " + err.Error()})
			continue
		}
		if spec.Paused {
			s2, _ := r.get(spec.SandboxID)
			if s2 != nil {
				_ = r.pause(s2, true)
			}
		}
	}
}

// watchPID notices the exit of a process that is not our child.
func (r *runtime) watchPID(s *sbox) {
	for syscall.Kill(s.pid, 0) == nil {
		select {
		case <-s.stopped:
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	r.onExit(s)
}

// gated is argv behind the start gate: a shell that execs it once it reads
// "go" on its stdin, and exits 125 on anything else (end of input).
func gated(argv []string) []string {
	return append([]string{"/bin/sh", "-c", `read -r word && [ "$word" = go ] && exec "$@" </dev/null; exit 125`, "sandbox-gate"}, argv...)
}

// pause freezes (or thaws) every process of the sandbox.
func (r *runtime) pause(s *sbox, frozen bool) error {
	if s.paused == frozen {
		return nil
	}
	err := s.cg.freeze(frozen)
	if errors.Is(err, errNoFreezer) {
		sig := syscall.SIGCONT
		if frozen {
			sig = syscall.SIGSTOP
		}
		for _, p := range descendants(s.pid) {
			_ = syscall.Kill(p, sig)
		}
		err = nil
	}
	if err != nil {
		return err
	}
	s.paused = frozen
	s.spec.Paused = frozen
	b, _ := json.Marshal(s.spec)
	_ = writeFileAtomic(s.specPath(), b, 0o600)
	return nil
}

// descendants lists pid and every process below it, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command may hold spaces and parentheses: fields follow the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// kill ends every process of a sandbox at once.
func (r *runtime) kill(s *sbox) {
	_ = s.cg.freeze(false)
	pids := s.cg.pids()
	if len(pids) == 0 {
		pids = descendants(s.pid)
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	if s.pid > 0 {
		_ = syscall.Kill(s.pid, syscall.SIGCONT)
		_ = syscall.Kill(s.pid, syscall.SIGKILL)
	}
}

// stop terminates a sandbox and removes it, workspace included.
func (r *runtime) stop(ctx context.Context, s *sbox) error { return r.terminate(ctx, s, false) }

// stopKeepWorkspace terminates a sandbox and removes all of it but its
// workspace.
func (r *runtime) stopKeepWorkspace(ctx context.Context, s *sbox) error {
	return r.terminate(ctx, s, true)
}

func (r *runtime) terminate(ctx context.Context, s *sbox, keepWorkspace bool) error {
	if s.paused {
		_ = r.pause(s, false)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_ = s.postJSON(sctx, supervisor.ShutdownPath, struct{}{}, nil)
	cancel()
	select {
	case <-s.stopped:
	case <-time.After(8 * time.Second):
		r.kill(s)
		select {
		case <-s.stopped:
		case <-time.After(5 * time.Second):
		}
	}
	r.kill(s)
	r.mu.Lock()
	delete(r.sandboxes, s.spec.SandboxID)
	r.mu.Unlock()
	s.cg.remove()
	s.unmountWorkspace()
	err := removeSandboxDir(s.dir, keepWorkspace)
	r.mu.Lock()
	delete(r.uids, s.uid)
	r.mu.Unlock()
	return err
}

// removeSandboxDir removes a sandbox's directory, or all of it but its
// workspace.
func removeSandboxDir(dir string, keepWorkspace bool) error {
	if !keepWorkspace {
		return os.RemoveAll(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if e.Name() != "workspace" && e.Name() != "workspace.img" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeDead removes what a sandbox that no longer runs left on disk (or
// all but its workspace), its cgroups included.
func (r *runtime) removeDead(id string, keepWorkspace bool) error {
	if !idForm(id) {
		return errNoSandbox
	}
	dir := filepath.Join(r.dir, id)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	if os.Geteuid() == 0 {
		g, _ := r.cg.create(cgroupName(dir, id), nodeapi.SandboxSpec{})
		g.remove()
	}
	(&sbox{dir: dir}).unmountWorkspace()
	return removeSandboxDir(dir, keepWorkspace)
}

// takeWorkspace moves the workspace of an ended sandbox of the same
// instance into dir, and removes the rest of it.
func (r *runtime) takeWorkspace(from, dir string) error {
	if !idForm(from) {
		return fmt.Errorf("reuseWorkspace %q is not a sandbox id", from)
	}
	r.mu.Lock()
	_, live := r.sandboxes[from]
	r.mu.Unlock()
	if live {
		return fmt.Errorf("sandbox %s still runs; its workspace is its own", from)
	}
	old := filepath.Join(r.dir, from)
	if _, err := os.Stat(filepath.Join(old, "workspace")); err != nil {
		return nil // nothing kept: the sandbox starts empty
	}
	(&sbox{dir: old}).unmountWorkspace()
	if err := os.Rename(filepath.Join(old, "workspace"), filepath.Join(dir, "workspace")); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(old, "workspace.img")); err == nil {
		if err := os.Rename(filepath.Join(old, "workspace.img"), filepath.Join(dir, "workspace.img")); err != nil {
			return err
		}
	}
	return r.removeDead(from, false)
}

// close detaches from every sandbox without stopping them: they keep
// running while the node restarts.
func (r *runtime) close() {
	r.closePools()
	r.mu.Lock()
	r.closed = true
	for _, s := range r.sandboxes {
		if s.cancel != nil {
			s.cancel()
		}
	}
	r.mu.Unlock()
}

// logs returns the last lines of the agent's log.
func (r *runtime) logs(s *sbox, lines int) nodeapi.LogsResult {
	if lines <= 0 {
		lines = 100
	}
	cur, _ := readRegularBeneath(s.runDir(), supervisor.LogName)
	prev, _ := readRegularBeneath(s.runDir(), supervisor.LogName+".1")
	all := strings.Split(strings.TrimRight(string(prev)+string(cur), "\n"), "\n")
	if len(all) == 1 && all[0] == "" {
		all = nil
	}
	res := nodeapi.LogsResult{}
	if len(all) > lines {
		all = all[len(all)-lines:]
		res.Truncated = true
	}
	if len(all) > 0 {
		res.Logs = strings.Join(all, "\n") + "\n"
	}
	return res
}

// execOutput reads a range of a command's full output.
func (r *runtime) execOutput(s *sbox, execID, stream string, offset, limit int64) ([]byte, int64, error) {
	if !idForm(execID) || (stream != "stdout" && stream != "stderr") {
		return nil, 0, errNoSandbox
	}
	f, err := openRegularBeneath(s.runDir(), supervisor.ExecsDir+"/"+execID+"."+stream)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, _ := f.Stat()
	if limit <= 0 || limit > 4<<20 {
		limit = 4 << 20
	}
	b := make([]byte, limit)
	n, err := f.ReadAt(b, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return b[:n], st.Size(), nil
}

// unreachable returns the first directory on the way to dir that others
// cannot search, or "".
func unreachable(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for p := abs; ; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
			return p
		}
		if p == filepath.Dir(p) {
			return ""
		}
	}
}
