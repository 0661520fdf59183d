package sandbox

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/roosthq/roost/fleet"
	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// Errors of sandboxes.
var (
	ErrSandboxNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No sandbox with this id belongs to this instance. Use the sandboxId from ensureSandbox or instances.status."}
	ErrNoLiveSandbox = &rpc.Error{Type: methods.Conflict,
		Message: "The instance has no live sandbox. Start one with ensureSandbox or createSandbox."}
	ErrLiveExists = &rpc.Error{Type: methods.Conflict,
		Message: "The instance already has a live sandbox. Use ensureSandbox to get it, or terminate it first."}
	ErrPausedByUser = &rpc.Error{Type: methods.Conflict,
		Message: "The sandbox is paused. Resume it with resumeSandbox, then retry."}
	ErrNotReady = &rpc.Error{Type: methods.Conflict,
		Message: "The sandbox is still starting. Retry in a moment."}
	ErrExecNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No command with this execId was run in this instance. See listExecs."}
)

// AgentPort is the port the agent serves its HTTP API on, inside the
// sandbox's own network; ROOST_AGENT_ADDR tells the agent.
const AgentPort = 7700

// Instances is the instance side the sandbox service reports to.
type Instances interface {
	// Event appends a lifecycle event to the instance's history.
	Event(ctx context.Context, instanceID, event, detail string) error
	// SetStatus moves the instance's status (initializing, ready, error).
	SetStatus(ctx context.Context, instanceID string, to instance.State, detail string) error
}

// Revision is what a sandbox needs of its bundle revision.
type Revision struct {
	SHA256   string
	Manifest methods.BundleManifest
}

// Bundles finds bundle revisions and opens their archives.
type Bundles interface {
	Revision(ctx context.Context, orgID, revisionID string) (Revision, error)
	// Open streams a revision's archive, whatever its org (for nodes).
	Open(ctx context.Context, revisionID string) (io.ReadCloser, error)
}

// ServiceOptions configures a Service.
type ServiceOptions struct {
	DB        *storage.DB
	Fleet     *fleet.Fleet
	Templates *Templates
	Instances Instances
	Bundles   Bundles
	Logger    *slog.Logger
	// IdleEvery is how often idle sandboxes are looked for. Default 10 s.
	IdleEvery time.Duration
	// ReadyWait bounds how long a call that needs a sandbox waits while it
	// starts. Default DefaultReadyWait.
	ReadyWait time.Duration
	// Audit, if set, records what the platform decides of a sandbox on its
	// own (the reconciler's findings).
	Audit rpc.Observer
	// WarmPool is how many sandboxes of each template every node keeps
	// warm, for templates that do not set their own. Default 0.
	WarmPool int
}

// Service runs the sandboxes of instances on the fleet.
type Service struct {
	o     ServiceOptions
	store store
	log   *slog.Logger
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	// ctx ends when the service closes; background work derives from it.
	ctx    context.Context
	cancel context.CancelFunc
	// starts follows the sandboxes that are starting, until ready.
	starts startups
}

// NewService starts the service's idle watcher.
func NewService(o ServiceOptions) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.IdleEvery <= 0 {
		o.IdleEvery = 10 * time.Second
	}
	if o.ReadyWait <= 0 {
		o.ReadyWait = DefaultReadyWait
	}
	s := &Service{o: o, store: newStore(o.DB), log: o.Logger, stop: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	o.Fleet.SetHooks(fleet.Hooks{OnHello: s.onHello, OnEvent: s.onEvent, OpenBundle: s.openBundle, NodesOf: s.store.nodesOf})
	s.wg.Add(1)
	go s.idleLoop()
	return s
}

// Close stops the idle watcher.
func (s *Service) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.cancel()
	})
	s.wg.Wait()
}

// MarkStaleExecs fails the commands a previous run of the platform left
// running: their results can no longer reach anyone.
func (s *Service) MarkStaleExecs(ctx context.Context) error {
	return s.failRunningExecs(ctx, "the platform restarted while the command ran")
}

// transition moves a sandbox and records it in the instance's history.
func (s *Service) transition(ctx context.Context, r *Row, to State, pausedBy, reason string) error {
	for r.State != to {
		if !Lifecycle.CanMove(r.State, to) {
			return illegal(r.State, to)
		}
		errText := ""
		if to == Failed {
			errText = reason
		}
		ok, err := s.store.move(ctx, *r, to, pausedBy, errText, reason)
		if err != nil {
			return conflict(err)
		}
		if ok {
			r.State, r.PausedBy = to, pausedBy
			return nil
		}
		// The state changed under us; read it again.
		cur, err := s.store.get(ctx, r.ID)
		if err != nil {
			return err
		}
		*r = cur
	}
	return nil
}

// forInstance returns a sandbox of the instance by id.
func (s *Service) forInstance(ctx context.Context, inst instance.Row, sandboxID string) (Row, error) {
	r, err := s.store.get(ctx, sandboxID)
	if err != nil || r.InstanceID != inst.ID || r.OrgID != inst.OrgID {
		return Row{}, ErrSandboxNotFound
	}
	return r, nil
}

// Schedule starts a new instance's sandbox in the background.
func (s *Service) Schedule(ctx context.Context, inst instance.Row) error {
	_, err := s.Create(ctx, inst)
	return err
}

// CreateReady creates the instance's sandbox and returns once it is ready,
// or why it failed.
func (s *Service) CreateReady(ctx context.Context, inst instance.Row) (Row, error) {
	r, err := s.Create(ctx, inst)
	if err != nil {
		return r, err
	}
	return s.waitReady(ctx, r, s.startBound(inst))
}

// startBound is how long a start of the instance's sandbox may take: its
// template's start timeout, and time for the node to set it up.
func (s *Service) startBound(inst instance.Row) time.Duration {
	tpl, ok := s.o.Templates.Get(inst.TemplateSlug)
	if !ok {
		tpl = DefaultTemplate
	}
	return startTimeout(tpl) + 30*time.Second
}

// Create schedules a new sandbox for the instance and starts it in the
// background; the reply does not wait for the agent.
func (s *Service) Create(ctx context.Context, inst instance.Row) (Row, error) {
	if inst.Status == instance.StateArchived {
		return Row{}, rpc.Errorf(methods.Conflict, "The instance is archived and takes no new work.")
	}
	if _, err := s.store.live(ctx, inst.ID); err == nil {
		return Row{}, ErrLiveExists
	}
	tpl, ok := s.o.Templates.Get(inst.TemplateSlug)
	if !ok {
		tpl = DefaultTemplate
	}
	spec := nodeapi.SandboxSpec{InstanceID: inst.ID, Isolation: tpl.Isolation, Network: tpl.Network,
		MemoryMB: tpl.MemoryMB, CPUs: tpl.CPUs, Pids: tpl.Pids, TmpMB: tpl.TmpMB, DiskMB: tpl.DiskMB,
		GitInit: inst.VCSType == methods.VCSGitLocal || inst.VCSType == methods.VCSGitHub}
	if inst.BundleRevisionID != "" {
		rev, err := s.o.Bundles.Revision(ctx, inst.OrgID, inst.BundleRevisionID)
		if err != nil {
			return Row{}, err
		}
		m := rev.Manifest
		spec.BundleRevisionID, spec.BundleSHA256 = inst.BundleRevisionID, rev.SHA256
		spec.Entrypoint, spec.Env, spec.AgentPort = m.Entrypoint, m.Env, AgentPort
		if m.Health != nil {
			spec.Health = *m.Health
		}
	}
	// After an error, the new sandbox takes over the workspace its
	// predecessor left on its node, when that node can take it.
	var n fleet.NodeRow
	if prev, err := s.store.lastFailed(ctx, inst.ID); err == nil {
		if on, ok := s.o.Fleet.PickOn(ctx, prev.NodeID, inst.OrgID, tpl.RequiredLabels); ok {
			n, spec.ReuseWorkspace = on, prev.ID
		} else {
			_ = s.o.Instances.Event(ctx, inst.ID, "workspace_left_behind", fmt.Sprintf(
				"the workspace of sandbox %s stays on node %s, which cannot take the new sandbox now; this one starts empty", prev.ID, prev.NodeID))
		}
	}
	if n.ID == "" {
		var err error
		if n, err = s.o.Fleet.Pick(ctx, inst.OrgID, tpl.RequiredLabels); err != nil {
			return Row{}, err
		}
	}
	now := storage.Now()
	token := storage.NewSecret("rst_")
	r := Row{ID: storage.NewID("sbx"), OrgID: inst.OrgID, InstanceID: inst.ID, NodeID: n.ID, State: Creating,
		Limits: "{}", TokenHash: storage.HashSecret(token), IdleTimeoutMs: int64(tpl.IdleTimeoutSeconds) * 1000,
		CreatedAt: now, UpdatedAt: now, LastActivityAt: now}
	if err := s.store.insert(ctx, r); err != nil {
		if storage.IsUniqueViolation(err) {
			return Row{}, ErrLiveExists
		}
		return Row{}, fmt.Errorf("create sandbox: %w", err)
	}
	spec.SandboxID, spec.Token = r.ID, token
	s.starts.begin(r.ID, spec.Health, startTimeout(tpl))
	_ = s.o.Instances.Event(ctx, inst.ID, "sandbox_creating", fmt.Sprintf("sandbox %s scheduled on node %s (%s)", r.ID, n.Name, n.ID))
	s.setInstance(ctx, inst.ID, instance.StateInitializing, "sandbox starting")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.launch(r, spec)
	}()
	return r, nil
}

// WarmPools are the warm pools a node with these labels keeps: one per
// template that it can run and that wants one (its warmPool, else def).
func WarmPools(ts *Templates, def int, labels []string) nodeapi.PoolConfig {
	cfg := nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{}}
	for _, t := range ts.All() {
		size := def
		if t.WarmPool != nil {
			size = *t.WarmPool
		}
		if size <= 0 || t.Isolation == IsolationNone || !fleet.HasLabels(labels, t.RequiredLabels) {
			continue
		}
		cfg.Pools = append(cfg.Pools, nodeapi.PoolSpec{Template: t.Slug, Isolation: t.Isolation, Network: t.Network,
			MemoryMB: t.MemoryMB, CPUs: t.CPUs, Pids: t.Pids, TmpMB: t.TmpMB, Size: min(size, nodeapi.MaxPoolSize)})
	}
	return cfg
}

// pushPools tells a node that connected which warm pools to keep. A
// draining node keeps none.
func (s *Service) pushPools(ctx context.Context, nodeID string) {
	n, err := s.o.Fleet.Get(ctx, nodeID)
	if err != nil {
		return
	}
	cfg := nodeapi.PoolConfig{Pools: []nodeapi.PoolSpec{}}
	if !n.Draining {
		cfg = WarmPools(s.o.Templates, s.o.WarmPool, n.LabelList())
	}
	if _, err := s.o.Fleet.Node(nodeID).SetPools(ctx, cfg); err != nil {
		s.log.Warn("warm pools not set on the node", "node", nodeID, "err", err)
	}
}

// launch asks the node to start the sandbox and sets it up; the agent's
// health report (onEvent) makes it ready if it was not yet.
func (s *Service) launch(r Row, spec nodeapi.SandboxSpec) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Minute)
	defer cancel()
	info, err := s.node(r).Start(ctx, spec)
	if err != nil {
		s.fail(ctx, &r, "the node did not start it: "+reason(err))
		return
	}
	lj, _ := json.Marshal(info.Limits)
	_, _ = s.o.DB.ExecContext(ctx, `UPDATE sandboxes SET isolation = ?, limits = ? WHERE id = ?`, info.Isolation, string(lj), r.ID)
	s.o.DB.Versions().Changed(r.InstanceID)
	detail := fmt.Sprintf("isolation %s; limits enforced: memory %v, cpu %v, pids %v; pause by %s",
		info.Isolation, info.Limits.Memory, info.Limits.CPU, info.Limits.Pids, info.Limits.Freeze)
	if spec.DiskMB > 0 {
		detail += fmt.Sprintf("; disk %v", info.Limits.Disk)
	}
	if info.Warm {
		detail += "; from the node's warm pool"
	}
	if err := s.transition(ctx, &r, Running, "", detail); err != nil {
		var te *lifecycle.TransitionError
		if errors.As(err, &te) && (te.From == string(Failed) || te.From == string(Terminating) || te.From == string(Terminated)) {
			// It failed or was terminated meanwhile: what moved it there
			// ends the start, with the reason.
			return
		}
		s.log.Warn("sandbox started but not moved to running", "sandbox", r.ID, "err", err)
		s.starts.finish(r.ID, err)
		return
	}
	if spec.GitInit {
		// The workspace is a git repository from the start, so publishing
		// has history to commit to.
		res, err := s.Run(ctx, r, gitInitScript, time.Minute)
		if err != nil || res.ExitCode != 0 {
			_ = s.o.Instances.Event(ctx, r.InstanceID, "git_init_failed", strings.TrimSpace(res.Stderr))
		}
	}
	if ready, _ := s.starts.mark(r.ID, true, info.Healthy, len(spec.Entrypoint) > 0); ready {
		s.ready(ctx, r, "sandbox running")
	}
}

// ready ends a start: the instance is ready and the calls waiting go on.
func (s *Service) ready(ctx context.Context, r Row, why string) {
	s.setInstance(ctx, r.InstanceID, instance.StateReady, why)
	s.starts.finish(r.ID, nil)
}

// setInstance moves the sandbox's instance along with it. A refusal is
// logged, not returned: the sandbox's own move already happened, and an
// instance archived meanwhile rightly refuses.
func (s *Service) setInstance(ctx context.Context, instanceID string, to instance.State, why string) {
	if err := s.o.Instances.SetStatus(ctx, instanceID, to, why); err != nil && !errors.Is(err, instance.ErrArchived) {
		s.log.Warn("instance status not moved with its sandbox", "instance", instanceID, "to", to, "err", err)
	}
}

// gitInitScript makes /workspace a repository on branch main, once.
const gitInitScript = `cd /workspace && if [ ! -d .git ]; then git init -q -b main && git config user.name roost && git config user.email roost@localhost && printf '.roost/\n' > .git/info/exclude; fi`

// reason is an error's sentence for a lifecycle event.
func reason(err error) string {
	var e *rpc.Error
	if errors.As(err, &e) {
		if e.Cause != nil && e.Type != methods.Unavailable {
			return e.Message + " (" + e.Cause.Error() + ")"
		}
		return e.Message
	}
	return err.Error()
}

// fail moves a sandbox to error and the instance with it; then a call
// waiting for its start learns why, and finds both in error.
func (s *Service) fail(ctx context.Context, r *Row, why string) {
	defer s.starts.finish(r.ID, StartError(why))
	if err := s.transition(ctx, r, Failed, "", why); err != nil {
		var te *lifecycle.TransitionError
		if errors.As(err, &te) && te.From == string(Terminated) {
			return // it ended on purpose meanwhile
		}
		if ctx.Err() != nil {
			return // shutting down: the next start reconciles it
		}
		s.log.Warn("sandbox not moved to error", "sandbox", r.ID, "err", err)
		return
	}
	s.setInstance(ctx, r.InstanceID, instance.StateError, why)
}

// node is the client of the node a sandbox runs on.
func (s *Service) node(r Row) fleet.Client { return s.o.Fleet.Node(r.NodeID) }

// EnsureReady is Ensure, returning once the sandbox is ready or why it is
// not.
func (s *Service) EnsureReady(ctx context.Context, inst instance.Row) (Row, error) {
	r, err := s.Ensure(ctx, inst)
	if err != nil {
		return r, err
	}
	return s.waitReady(ctx, r, s.startBound(inst))
}

// Ensure returns the instance's live sandbox, resuming it if it was
// paused, or creates one; it does not wait for a start.
func (s *Service) Ensure(ctx context.Context, inst instance.Row) (Row, error) {
	r, err := s.store.live(ctx, inst.ID)
	if errors.Is(err, ErrNoLiveSandbox) {
		return s.Create(ctx, inst)
	}
	if err != nil {
		return r, err
	}
	if r.State == Paused {
		if err := s.resume(ctx, &r); err != nil {
			return r, err
		}
	}
	s.store.touch(ctx, r.ID)
	return r, nil
}

// Pause freezes a sandbox; pausing a paused one does nothing.
func (s *Service) Pause(ctx context.Context, inst instance.Row, sandboxID, by string) error {
	r, err := s.forInstance(ctx, inst, sandboxID)
	if err != nil {
		return err
	}
	return s.pause(ctx, &r, by)
}

func (s *Service) pause(ctx context.Context, r *Row, by string) error {
	switch r.State {
	case Paused:
		return nil
	case Creating:
		return ErrNotReady
	case Running:
	default:
		return illegal(r.State, Paused)
	}
	if err := s.node(*r).Pause(ctx, r.ID); err != nil {
		return s.nodeFailure(ctx, r, err)
	}
	return s.transition(ctx, r, Paused, by, "paused by "+by)
}

// Resume thaws the instance's live sandbox; a running one is left as is.
// With wait, a sandbox still starting is waited for.
func (s *Service) Resume(ctx context.Context, inst instance.Row, wait bool) error {
	r, err := s.store.live(ctx, inst.ID)
	if err != nil {
		return err
	}
	if r.State != Paused {
		if wait {
			_, err = s.waitReady(ctx, r, s.startBound(inst))
		}
		return err
	}
	return s.resume(ctx, &r)
}

func (s *Service) resume(ctx context.Context, r *Row) error {
	if err := s.node(*r).Resume(ctx, r.ID); err != nil {
		return s.nodeFailure(ctx, r, err)
	}
	return s.transition(ctx, r, Running, "", "resumed")
}

// errNoAgent answers an agent call to a sandbox that runs none.
var errNoAgent = &rpc.Error{Type: methods.Conflict, Message: "This sandbox runs no agent: its instance has no bundle."}

// nodeFailure turns a node's refusal into the caller's error, by its code;
// a node that no longer has a live sandbox makes it error.
func (s *Service) nodeFailure(ctx context.Context, r *Row, err error) error {
	switch fleet.CodeOf(err) {
	case "":
		return err // not reached (unavailable) or the caller gave up
	case nodeapi.CodeNoSandbox:
		if !r.State.Live() || r.State == Terminating {
			// Gone as it should be: nothing to mark.
			return rpc.Errorf(methods.Conflict, "The sandbox is %s and no longer runs. Start a new one with ensureSandbox.", r.State)
		}
		// Only the reconciler, from the node's whole list, decides that a
		// sandbox is gone; one call's answer may race its start or stop.
		return rpc.Errorf(methods.Unavailable, "The node does not run this sandbox at the moment. Retry in a moment; if it persists, the platform marks it when the node reports what it runs.").Wrap(err)
	case nodeapi.CodePaused:
		return ErrPausedByUser
	case nodeapi.CodeStarting:
		return rpc.Errorf(methods.Unavailable, "The sandbox is still starting on its node. Retry in a moment.").Wrap(err)
	case nodeapi.CodeNoAgent:
		return errNoAgent
	case nodeapi.CodeNotListening:
		return ErrNothingListens
	case nodeapi.CodeNoFile:
		return ErrNoFile
	case nodeapi.CodeNoOutput:
		return errNoOutput
	}
	return rpc.ErrInternal.Wrap(err)
}

// Terminate stops a sandbox for good; terminating a terminated one does
// nothing.
func (s *Service) Terminate(ctx context.Context, inst instance.Row, sandboxID string) error {
	r, err := s.forInstance(ctx, inst, sandboxID)
	if err != nil {
		return err
	}
	return s.terminate(ctx, &r, "terminated by request")
}

func (s *Service) terminate(ctx context.Context, r *Row, why string) error {
	if r.State == Terminated {
		return nil
	}
	if err := s.transition(ctx, r, Terminating, "", why); err != nil {
		return err
	}
	s.starts.finish(r.ID, rpc.Errorf(methods.Conflict, "The sandbox was terminated while it started (%s). Start a new one with ensureSandbox.", why))
	err := s.node(*r).Remove(ctx, r.ID)
	detail := "sandbox removed from its node"
	if err != nil {
		// The node removes it when it reconnects and reports what it runs.
		detail = "node unreachable; it removes the sandbox when it reconnects"
	}
	return s.transition(ctx, r, Terminated, "", detail)
}

// TerminateLive terminates the instance's live sandbox, if any (archive).
func (s *Service) TerminateLive(ctx context.Context, instanceID, why string) error {
	// What sandboxes that ended in error kept on their nodes goes too.
	if failed, err := s.store.failedOf(ctx, instanceID); err == nil {
		for _, f := range failed {
			if err := s.node(f).Remove(ctx, f.ID); err != nil {
				s.log.Warn("the workspace of a failed sandbox was not removed from its node", "sandbox", f.ID, "err", err)
			}
		}
	}
	r, err := s.store.live(ctx, instanceID)
	if errors.Is(err, ErrNoLiveSandbox) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.terminate(ctx, &r, why)
}

// RestartAgent restarts the agent of a running sandbox.
func (s *Service) RestartAgent(ctx context.Context, inst instance.Row, sandboxID string) error {
	r, err := s.usable(ctx, inst, sandboxID)
	if err != nil {
		return err
	}
	if err := s.node(r).RestartAgent(ctx, r.ID); err != nil {
		return s.nodeFailure(ctx, &r, err)
	}
	_ = s.o.Instances.Event(ctx, r.InstanceID, "agent_restart_requested", "")
	return nil
}

// usable returns a sandbox that can take work: running, or paused for
// idleness (then resumed). A sandbox paused by request is a conflict.
func (s *Service) usable(ctx context.Context, inst instance.Row, sandboxID string) (Row, error) {
	var r Row
	var err error
	if sandboxID == "" {
		r, err = s.store.liveCached(ctx, inst.ID)
	} else {
		r, err = s.forInstance(ctx, inst, sandboxID)
	}
	if err != nil {
		return r, err
	}
	if r, err = s.waitUp(ctx, r, s.o.ReadyWait); err != nil {
		return r, err
	}
	switch r.State {
	case Running:
	case Paused:
		// Work resumes a paused sandbox on demand.
		if err := s.resume(ctx, &r); err != nil {
			return r, err
		}
	default:
		return r, rpc.Errorf(methods.Conflict, "The sandbox is %s. Start a new one with ensureSandbox.", r.State)
	}
	s.store.touch(ctx, r.ID)
	return r, nil
}

// Logs returns the tail of the agent's log.
func (s *Service) Logs(ctx context.Context, inst instance.Row, sandboxID string, lines *int) (methods.GetAgentLogsOutput, error) {
	n := 100
	if lines != nil {
		if *lines < 1 || *lines > 10000 {
			return methods.GetAgentLogsOutput{}, rpc.InvalidField("lines", "range", "The lines must be between 1 and 10000.")
		}
		n = *lines
	}
	r, err := s.forInstance(ctx, inst, sandboxID)
	if err != nil {
		return methods.GetAgentLogsOutput{}, err
	}
	if r, err = s.waitUp(ctx, r, s.o.ReadyWait); err != nil && r.State == Creating {
		return methods.GetAgentLogsOutput{}, err
	}
	out, err := s.node(r).Logs(ctx, r.ID, n)
	if err != nil {
		return methods.GetAgentLogsOutput{}, s.nodeFailure(ctx, &r, err)
	}
	return methods.GetAgentLogsOutput{Logs: out.Logs, Truncated: out.Truncated}, nil
}

// ValidateToken tells whether token is the sandbox's ROOST_SANDBOX_TOKEN.
func (s *Service) ValidateToken(ctx context.Context, inst instance.Row, sandboxID, token string) (bool, error) {
	r, err := s.forInstance(ctx, inst, sandboxID)
	if err != nil {
		return false, err
	}
	ok := subtle.ConstantTimeCompare([]byte(storage.HashSecret(token)), []byte(r.TokenHash)) == 1
	return ok && r.State.Live(), nil
}

// Summary is the sandbox part of instances.status: the live sandbox, else
// the latest one.
func (s *Service) Summary(ctx context.Context, instanceID string) (*methods.SandboxSummary, error) {
	r, err := s.store.live(ctx, instanceID)
	if errors.Is(err, ErrNoLiveSandbox) {
		r, err = s.store.latest(ctx, instanceID)
	}
	if errors.Is(err, ErrNoLiveSandbox) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &methods.SandboxSummary{State: string(r.State), E2BID: r.ID, LastActivityAt: storage.FormatTime(r.LastActivityAt)}, nil
}

// Live returns the instance's live sandbox id and state.
func (s *Service) Live(ctx context.Context, instanceID string) (Row, error) {
	return s.store.live(ctx, instanceID)
}

// idleLoop pauses sandboxes that were idle longer than their template's
// idle timeout.
func (s *Service) idleLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.IdleEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		var idle []Row
		now := storage.Now()
		if err := s.o.DB.Select(&idle, `SELECT `+sandboxColumns+` FROM sandboxes WHERE state = ?
			AND idle_timeout_ms > 0 AND last_activity_at + idle_timeout_ms < ?`, Running, now); err != nil {
			s.log.Error("find idle sandboxes", "err", err)
			continue
		}
		for _, r := range idle {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := s.pause(ctx, &r, "idle"); err != nil {
				s.log.Warn("idle sandbox not paused", "sandbox", r.ID, "err", err)
			}
			cancel()
		}
	}
}

// onHello reconciles a node's report of what it runs with what the
// platform believes.
func (s *Service) onHello(nodeID string, running []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.pushPools(ctx, nodeID)
	has := map[string]bool{}
	for _, id := range running {
		has[id] = true
	}
	rows, err := s.store.onNode(ctx, nodeID)
	if err != nil {
		s.log.Error("reconcile node", "node", nodeID, "err", err)
		return
	}
	live := map[string]bool{}
	for _, r := range rows {
		live[r.ID] = true
		if has[r.ID] {
			if r.State == Creating && time.Since(time.UnixMilli(r.CreatedAt)) > time.Minute {
				// Its launch was cut short (a platform restart); the node has it.
				_ = s.transition(ctx, &r, Running, "", "the node reports it running")
			}
			continue
		}
		if r.State == Creating && time.Since(time.UnixMilli(r.CreatedAt)) < 5*time.Minute {
			continue // its launch may still be on the way
		}
		if r.State == Terminating {
			_ = s.transition(ctx, &r, Terminated, "", "the node no longer runs it")
			continue
		}
		s.fail(ctx, &r, "the node reconnected without this sandbox")
		s.audit(ctx, r, "sandbox_gone")
	}
	for _, id := range running {
		if !live[id] {
			s.log.Info("removing a sandbox the platform no longer wants", "node", nodeID, "sandbox", id)
			if err := s.o.Fleet.Node(nodeID).Remove(ctx, id); err != nil {
				s.log.Warn("stale sandbox not removed", "sandbox", id, "err", err)
			}
		}
	}
	if err := s.failRunningExecs(ctx, "the node restarted or reconnected while the command ran",
		lifecycle.Set{Column: "node_id", Value: nodeID}); err != nil {
		s.log.Error("end the commands of a reconnected node", "node", nodeID, "err", err)
	}
}

// audit records a decision the platform took of a sandbox on its own.
func (s *Service) audit(ctx context.Context, r Row, outcome string) {
	if s.o.Audit == nil {
		return
	}
	s.o.Audit.Observe(ctx, rpc.Record{Endpoint: "platform", Method: "sandbox.reconcile", InstanceID: r.InstanceID,
		Caller: rpc.Caller{Kind: "platform", ID: "reconciler", OrgID: r.OrgID}, Outcome: outcome, Start: time.Now()})
}

// onEvent records what a node reports of a sandbox.
func (s *Service) onEvent(nodeID string, ev nodeapi.SandboxEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.store.get(ctx, ev.SandboxID)
	if err != nil || r.NodeID != nodeID {
		return
	}
	detail := ev.Detail
	switch ev.Type {
	case "agent_healthy":
		ready, followed := s.starts.mark(r.ID, false, true, true)
		switch {
		case ready:
			s.ready(ctx, r, "agent is up")
		case followed:
			// The launch's setup is not done; it makes the sandbox ready.
		case r.State == Running || r.State == Creating:
			s.setInstance(ctx, r.InstanceID, instance.StateReady, "agent is up")
		}
		return
	case "sandbox_stopped", "sandbox_failed":
		if r.State.Live() && r.State != Terminating {
			s.fail(ctx, &r, detail)
		}
		return
	case "agent_exited":
		if ev.Code != nil {
			detail = fmt.Sprintf("agent exited with code %d", *ev.Code)
		}
		if s.starts.startingUnhealthy(r.ID) {
			// An agent that exits before it ever answered health does
			// not start; its restarts would only repeat that.
			_ = s.o.Instances.Event(ctx, r.InstanceID, ev.Type, detail)
			s.fail(ctx, &r, "its "+detail+" before it answered health"+s.lastLines(ctx, r, 20))
			// Its workspace stays for the next sandbox of the instance.
			if err := s.node(r).RemoveKeepWorkspace(ctx, r.ID); err != nil {
				s.log.Warn("failed sandbox not removed from its node", "sandbox", r.ID, "err", err)
			}
			return
		}
	}
	_ = s.o.Instances.Event(ctx, r.InstanceID, ev.Type, detail)
}

// openBundle streams a revision's archive to a node.
func (s *Service) openBundle(ctx context.Context, revisionID string) (io.ReadCloser, error) {
	return s.o.Bundles.Open(ctx, revisionID)
}
