package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/supervisor"
)

// A warm pool keeps sandboxes of one shape (isolation, network, limits)
// started and idle: their supervisor runs in its namespaces and cgroups,
// with an empty workspace and no agent. A start of a sandbox of that shape
// claims one instead of starting cold: the node fills its /agent with the
// bundle (hard links into the bundle cache), tells its supervisor which
// sandbox it now is, and renames its directory. A member is claimed once
// and never goes back to a pool, so nothing of one user reaches another;
// the pool is refilled in the background. Members hold no bundle and no
// instance, so a new bundle revision needs no new members; a pool whose
// shape is no longer asked for (a template changed) is retired.

// memberState is where a warm pool member is (runtime.mu).
type memberState int

const (
	memberNone     memberState = iota // not a member
	memberStarting                    // being started
	memberIdle                        // in the pool, free
	memberClaiming                    // taken by a start, being claimed
	memberClaimed                     // a sandbox now, like any other
)

// maxLinkedFiles bounds the bundle a claim links into a member: a bundle
// with more files starts cold, where bubblewrap binds it in one go.
const maxLinkedFiles = 20000

// poolRetry is how long a pool waits after a member failed to start.
const poolRetry = 5 * time.Second

// refillAfter is how long a pool waits after a claim before it starts a
// new member: the claimed sandbox's agent starts first, not beside a
// member's start on the same CPUs.
const refillAfter = 200 * time.Millisecond

// warmPools is the runtime's pools; the maps are guarded by runtime.mu.
type warmPools struct {
	want     map[string]nodeapi.PoolSpec // by key; Size summed over templates
	names    map[string][]string
	idle     map[string][]*sbox
	starting map[string]int
	claimed  map[string]int64
	retired  map[string]int64
	lastErr  map[string]string
	failedAt map[string]time.Time
	// holdUntil defers the refill of a pool after a claim (refillAfter).
	holdUntil map[string]time.Time
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}

	statsMu sync.Mutex
	cold    []nodeapi.StartTimings // the last statsKept
	warm    []int64
}

const statsKept = 256

func newWarmPools() warmPools {
	return warmPools{want: map[string]nodeapi.PoolSpec{}, names: map[string][]string{}, idle: map[string][]*sbox{},
		starting: map[string]int{}, claimed: map[string]int64{}, retired: map[string]int64{},
		lastErr: map[string]string{}, failedAt: map[string]time.Time{}, holdUntil: map[string]time.Time{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

func (p *warmPools) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// poolKey is the shape a sandbox's spec asks for.
func poolKey(isolation, network string, memoryMB int, cpus float64, pids, tmpMB int) string {
	if isolation != nodeapi.IsolationNone {
		isolation = nodeapi.IsolationBubblewrap
	}
	if network == "" {
		network = "none"
	}
	return fmt.Sprintf("%s/%s/%dmb/%scpu/%dpids/%dmbtmp", isolation, network, memoryMB, strconv.FormatFloat(cpus, 'f', -1, 64), pids, tmpMB)
}

func specKey(s nodeapi.SandboxSpec) string {
	return poolKey(s.Isolation, s.Network, s.MemoryMB, s.CPUs, s.Pids, s.TmpMB)
}

// poolDir holds the members' directories.
func (r *runtime) poolDir() string { return filepath.Join(r.dir, "pool") }

// setPools replaces the pools the node keeps.
func (r *runtime) setPools(cfg nodeapi.PoolConfig) error {
	want := map[string]nodeapi.PoolSpec{}
	names := map[string][]string{}
	total := 0
	for _, ps := range cfg.Pools {
		if ps.Size < 0 || ps.Size > nodeapi.MaxPoolSize {
			return fmt.Errorf("pool of template %q: size %d is out of range; it must be 0 to %d", ps.Template, ps.Size, nodeapi.MaxPoolSize)
		}
		if ps.MemoryMB < 0 || ps.CPUs < 0 || ps.Pids < 0 {
			return fmt.Errorf("pool of template %q: limits must not be negative", ps.Template)
		}
		total += ps.Size
		if ps.Size == 0 {
			continue
		}
		k := poolKey(ps.Isolation, ps.Network, ps.MemoryMB, ps.CPUs, ps.Pids, ps.TmpMB)
		w := want[k]
		size := w.Size + ps.Size
		w = ps
		w.Size = min(size, nodeapi.MaxPoolSize)
		want[k] = w
		names[k] = append(names[k], ps.Template)
	}
	if total > nodeapi.MaxPoolTotal {
		return fmt.Errorf("the pools ask for %d sandboxes; a node keeps at most %d warm", total, nodeapi.MaxPoolTotal)
	}
	r.mu.Lock()
	r.pool.want, r.pool.names = want, names
	for k := range r.pool.failedAt {
		delete(r.pool.failedAt, k) // a new config retries at once
	}
	r.mu.Unlock()
	r.pool.wake()
	return nil
}

// poolStatus is what node metrics show of the pools.
func (r *runtime) poolStatus() []nodeapi.PoolStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := map[string]bool{}
	for k := range r.pool.want {
		keys[k] = true
	}
	for k, l := range r.pool.idle {
		if len(l) > 0 {
			keys[k] = true
		}
	}
	out := []nodeapi.PoolStatus{}
	for k := range keys {
		st := nodeapi.PoolStatus{Key: k, Templates: append([]string{}, r.pool.names[k]...), Size: r.pool.want[k].Size,
			Idle: len(r.pool.idle[k]), Starting: r.pool.starting[k], Claimed: r.pool.claimed[k], Retired: r.pool.retired[k],
			LastError: r.pool.lastErr[k]}
		if r.bwrap == "" {
			st.LastError = "this node has no bubblewrap; warm pools need it"
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// poolLoop keeps the pools at their size, one member at a time, and
// retires what is no longer asked for.
func (r *runtime) poolLoop() {
	defer close(r.pool.done)
	for {
		select {
		case <-r.pool.stop:
			return
		case <-r.pool.kick:
		}
		for r.poolStep() {
			select {
			case <-r.pool.stop:
				return
			default:
			}
		}
	}
}

// poolStep retires the members no pool wants and starts one missing
// member; it reports whether there may be more to do.
func (r *runtime) poolStep() bool {
	r.mu.Lock()
	var retire []*sbox
	for k, l := range r.pool.idle {
		keep := r.pool.want[k].Size
		if r.bwrap == "" {
			keep = 0
		}
		if len(l) > keep {
			retire = append(retire, l[keep:]...)
			r.pool.idle[k] = l[:keep]
			r.pool.retired[k] += int64(len(l) - keep)
		}
	}
	key, ps := "", nodeapi.PoolSpec{}
	var retryIn time.Duration
	if r.bwrap != "" && !r.closed {
		keys := make([]string, 0, len(r.pool.want))
		for k := range r.pool.want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w := r.pool.want[k]
			if len(r.pool.idle[k])+r.pool.starting[k] >= w.Size {
				continue
			}
			wait := time.Until(r.pool.holdUntil[k])
			if at, ok := r.pool.failedAt[k]; ok {
				wait = max(wait, poolRetry-time.Since(at))
			}
			if wait > 0 {
				if retryIn == 0 || wait < retryIn {
					retryIn = wait
				}
				continue
			}
			key, ps = k, w
			r.pool.starting[k]++
			break
		}
	}
	r.mu.Unlock()
	for _, m := range retire {
		r.removeMember(m)
	}
	if key == "" {
		if retryIn > 0 {
			time.AfterFunc(retryIn, r.pool.wake)
		}
		return false
	}
	m, err := r.startMember(key, ps)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pool.starting[key]--
	if err != nil {
		r.pool.lastErr[key] = err.Error()
		r.pool.failedAt[key] = time.Now()
		r.log.Warn("a warm pool member did not start", "pool", key, "err", err)
		return true
	}
	delete(r.pool.lastErr, key)
	select {
	case <-m.exited:
		// It died at once; watchExit removes it.
		return true
	default:
	}
	m.poolState = memberIdle
	r.pool.idle[key] = append(r.pool.idle[key], m)
	return true
}

// startMember starts one member of a pool.
func (r *runtime) startMember(key string, ps nodeapi.PoolSpec) (*sbox, error) {
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-r.pool.stop:
		return nil, errors.New("the node is stopping")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := "wp-" + hex.EncodeToString(b)
	dir := filepath.Join(r.poolDir(), id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	_ = os.Chmod(r.poolDir(), 0o711)
	spec := nodeapi.SandboxSpec{SandboxID: id, Isolation: ps.Isolation, Network: ps.Network,
		MemoryMB: ps.MemoryMB, CPUs: ps.CPUs, Pids: ps.Pids, TmpMB: ps.TmpMB}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := r.start(ctx, spec, dir, key)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return m, nil
}

// claim takes a free member of the pool of spec's shape and makes it the
// sandbox spec describes; nil when there is none (or the claim failed),
// and the sandbox starts cold.
func (r *runtime) claim(ctx context.Context, spec nodeapi.SandboxSpec) *sbox {
	if r.bwrap == "" || spec.Isolation == nodeapi.IsolationNone || spec.Paused || spec.ReuseWorkspace != "" || spec.DiskMB > 0 {
		return nil
	}
	dir := filepath.Join(r.dir, spec.SandboxID)
	if _, err := os.Lstat(dir); err == nil {
		return nil // a restart from its own workspace
	}
	key := specKey(spec)
	r.mu.Lock()
	l := r.pool.idle[key]
	if len(l) == 0 || r.closed {
		r.mu.Unlock()
		return nil
	}
	m := l[len(l)-1]
	r.pool.idle[key] = l[:len(l)-1]
	m.poolState = memberClaiming
	r.pool.holdUntil[key] = time.Now().Add(refillAfter)
	r.mu.Unlock()
	r.pool.wake()

	t0 := time.Now()
	if err := r.claimMember(ctx, m, spec, dir); err != nil {
		r.log.Warn("a warm pool member could not be claimed; the sandbox starts cold", "sandbox", spec.SandboxID, "err", err)
		r.removeMember(m)
		_ = os.RemoveAll(dir)
		return nil
	}
	m.timings = nodeapi.StartTimings{ClaimUs: time.Since(t0).Microseconds()}
	r.pool.recordClaim(m.timings.ClaimUs)
	r.mu.Lock()
	r.pool.claimed[key]++
	r.mu.Unlock()
	return m
}

func (r *runtime) claimMember(ctx context.Context, m *sbox, spec nodeapi.SandboxSpec, dir string) error {
	agentDir := "/workspace"
	if spec.BundleRevisionID != "" {
		src, err := r.bundles.ensure(ctx, spec.BundleRevisionID, spec.BundleSHA256)
		if err != nil {
			return err
		}
		if err := linkTree(src, filepath.Join(m.dir, "agent"), maxLinkedFiles); err != nil {
			return fmt.Errorf("bundle into the member: %w", err)
		}
		agentDir = "/agent"
	}
	c := supervisor.Claim{SandboxID: spec.SandboxID, InstanceID: spec.InstanceID, Token: spec.Token,
		Entrypoint: spec.Entrypoint, Env: spec.Env, AgentDir: agentDir, Health: spec.Health, AgentPort: spec.AgentPort}
	if err := m.postJSON(ctx, supervisor.ClaimPath, c, nil); err != nil {
		return err
	}
	// The member's directory becomes the sandbox's: its record first, then
	// its name, so that a node that dies in between finds either a member
	// (and removes it) or a whole sandbox (and re-attaches to it).
	b, _ := json.Marshal(spec)
	if err := writeFileAtomic(filepath.Join(m.dir, "spec.json"), b, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(m.dir, "cgroup"), []byte(m.cgName), 0o600); err != nil {
		return err
	}
	if err := os.Rename(m.dir, dir); err != nil {
		return err
	}
	r.mu.Lock()
	m.dir, m.spec, m.client = dir, spec, unixClient(filepath.Join(dir, "run"))
	m.poolState = memberClaimed
	r.mu.Unlock()
	r.attach(m)
	select {
	case <-m.exited:
		r.onExit(m) // it died while being claimed
	default:
	}
	return nil
}

// removeMember stops a member that is not a sandbox and removes all of it.
func (r *runtime) removeMember(m *sbox) {
	m.endOnce.Do(func() {
		r.mu.Lock()
		l := r.pool.idle[m.pool]
		for i, x := range l {
			if x == m {
				r.pool.idle[m.pool] = append(l[:i:i], l[i+1:]...)
				break
			}
		}
		dir := m.dir
		r.mu.Unlock()
		r.kill(m)
		if m.exited != nil {
			select {
			case <-m.exited:
			case <-time.After(5 * time.Second):
			}
		}
		m.cg.remove()
		_ = os.RemoveAll(dir)
		r.mu.Lock()
		delete(r.uids, m.uid)
		r.mu.Unlock()
	})
}

// dropMember removes a member whose supervisor exited, and refills.
func (r *runtime) dropMember(m *sbox) {
	r.removeMember(m)
	r.pool.wake()
}

// dropStaleMembers removes the members a previous run of the node left:
// a member holds nothing, so a fresh one is as good.
func (r *runtime) dropStaleMembers() {
	entries, _ := os.ReadDir(r.poolDir())
	for _, e := range entries {
		if !e.IsDir() || !idForm(e.Name()) {
			continue
		}
		dir := filepath.Join(r.poolDir(), e.Name())
		m := &sbox{dir: dir, cgName: cgroupName(dir, e.Name()), stopped: make(chan struct{})}
		pidb, _ := os.ReadFile(m.pidPath())
		m.pid, _ = strconv.Atoi(strings.TrimSpace(string(pidb)))
		if os.Geteuid() == 0 {
			m.cg, _ = r.cg.create(m.cgName, nodeapi.SandboxSpec{})
		} else {
			m.cg = &sandboxCgroup{dirs: map[string]string{}}
		}
		r.kill(m)
		m.cg.remove()
		_ = os.RemoveAll(dir)
	}
}

// closePools stops filling the pools and removes their members.
func (r *runtime) closePools() {
	select {
	case <-r.pool.stop:
		return
	default:
		close(r.pool.stop)
	}
	<-r.pool.done
	r.mu.Lock()
	var all []*sbox
	for _, l := range r.pool.idle {
		all = append(all, l...)
	}
	r.mu.Unlock()
	for _, m := range all {
		r.removeMember(m)
	}
}

// linkTree makes dst a copy of the tree src of hard links (copies where a
// link is refused), with at most limit entries.
func linkTree(src, dst string, limit int) error {
	n := 0
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > limit {
			return fmt.Errorf("the bundle has more than %d files", limit)
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if rel == "." {
				return nil
			}
			return os.Mkdir(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, to)
		case d.Type().IsRegular():
			if os.Link(p, to) == nil {
				return nil
			}
			return copyFile(p, to)
		}
		return nil // nothing else belongs in a bundle
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// recordStart and recordClaim keep the recent starts for metrics.
func (p *warmPools) recordStart(t nodeapi.StartTimings) {
	p.statsMu.Lock()
	p.cold = append(p.cold, t)
	if len(p.cold) > statsKept {
		p.cold = p.cold[len(p.cold)-statsKept:]
	}
	p.statsMu.Unlock()
}

func (p *warmPools) recordClaim(us int64) {
	p.statsMu.Lock()
	p.warm = append(p.warm, us)
	if len(p.warm) > statsKept {
		p.warm = p.warm[len(p.warm)-statsKept:]
	}
	p.statsMu.Unlock()
}

// startStats sums up the recent starts.
func (p *warmPools) startStats() *nodeapi.StartStats {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	if len(p.cold) == 0 && len(p.warm) == 0 {
		return nil
	}
	med := func(f func(nodeapi.StartTimings) int64) int64 {
		v := make([]int64, 0, len(p.cold))
		for _, t := range p.cold {
			v = append(v, f(t))
		}
		return median(v)
	}
	return &nodeapi.StartStats{Cold: len(p.cold), Warm: len(p.warm), WarmP50Us: median(append([]int64(nil), p.warm...)),
		ColdP50: nodeapi.StartTimings{
			QueuedUs:     med(func(t nodeapi.StartTimings) int64 { return t.QueuedUs }),
			PrepareUs:    med(func(t nodeapi.StartTimings) int64 { return t.PrepareUs }),
			SpawnUs:      med(func(t nodeapi.StartTimings) int64 { return t.SpawnUs }),
			SupervisorUs: med(func(t nodeapi.StartTimings) int64 { return t.SupervisorUs }),
		}}
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}
