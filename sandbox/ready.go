package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// A sandbox is ready when it runs, its launch's setup (the workspace's git
// repository) is done, and its agent, if it has one, answered health. Calls
// that need a sandbox wait for that instead of answering "still starting".

// DefaultReadyWait bounds how long a call waits for a starting sandbox.
const DefaultReadyWait = 30 * time.Second

// DefaultStartTimeout is how long an agent has to answer health when its
// template says nothing.
const DefaultStartTimeout = 60 * time.Second

// startup follows one sandbox from its creation to ready or failed. up
// closes when it runs and its setup is done (or it failed): what commands
// need. done closes when it is ready (or failed): what createSandbox,
// ensureSandbox and resumeSandbox answer after.
type startup struct {
	up, done chan struct{}
	// err, set before done closes (and before up, if up is still open),
	// is why the start failed; read it with failure.
	err error
	// health is the agent's health path, for the reason of a timeout.
	health  string
	timeout time.Duration
	began   time.Time
	// launched: the node runs it and the launch's setup is done.
	launched bool
	// healthy: its agent answered health.
	healthy bool
}

// startups holds the starts this process follows.
type startups struct {
	mu sync.Mutex
	m  map[string]*startup
}

func (ss *startups) begin(id, health string, timeout time.Duration) *startup {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*startup{}
	}
	st := &startup{up: make(chan struct{}), done: make(chan struct{}), health: health, timeout: timeout, began: time.Now()}
	ss.m[id] = st
	return st
}

func (ss *startups) get(id string) *startup {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.m[id]
}

// finish ends a start, ready (err nil) or failed; only the first call
// counts.
func (ss *startups) finish(id string, err error) {
	ss.mu.Lock()
	st := ss.m[id]
	delete(ss.m, id)
	if st != nil {
		st.err = err
	}
	ss.mu.Unlock()
	if st != nil {
		if !st.launched {
			close(st.up)
		}
		close(st.done)
	}
}

// startingUnhealthy tells whether the sandbox is still starting and its
// agent has not answered health yet (read under the lock mark writes under).
func (ss *startups) startingUnhealthy(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	st := ss.m[id]
	return st != nil && !st.healthy
}

// failure is why a start that ended failed: up may have closed long
// before its start ended, so err is read under the lock it is set under.
func (ss *startups) failure(st *startup) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return st.err
}

// mark records a step of a start and reports whether the sandbox is ready
// now (needsHealth says whether it waits for its agent).
func (ss *startups) mark(id string, launched, healthy, needsHealth bool) (ready, followed bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	st := ss.m[id]
	if st == nil {
		return false, false
	}
	if launched && !st.launched {
		close(st.up)
	}
	st.launched = st.launched || launched
	st.healthy = st.healthy || healthy
	return st.launched && (st.healthy || !needsHealth), true
}

// StartError is a sandbox that did not become ready, with why.
func StartError(why string) error {
	return rpc.Errorf(methods.Unavailable, "The sandbox did not start: %s. Start a new one with ensureSandbox once the cause is fixed.", strings.TrimSuffix(why, "."))
}

// errReadyTimeout answers a call that waited its bound for a start.
func errReadyTimeout(bound time.Duration) error {
	return rpc.Errorf(methods.Timeout, "The sandbox is still starting after %s. Retry in a moment; if it persists, see getAgentLogs and instances.status.", bound)
}

// waitReady returns the sandbox once it is ready: running, set up, and its
// agent healthy. Past the template's start timeout it says why not; the
// sandbox keeps running, so that its agent can be looked into.
func (s *Service) waitReady(ctx context.Context, r Row, bound time.Duration) (Row, error) {
	r, err := s.waitUp(ctx, r, bound)
	st := s.starts.get(r.ID)
	if err != nil || st == nil {
		return r, err
	}
	timer := time.NewTimer(time.Until(st.began.Add(st.timeout)))
	defer timer.Stop()
	select {
	case <-st.done:
	case <-timer.C:
		what := "its agent did not answer health"
		if st.health != "" {
			what += " (GET " + st.health + ")"
		}
		return r, rpc.Errorf(methods.Timeout, "The sandbox runs, but %s within %s%s. See getAgentLogs; commands run meanwhile.",
			what, st.timeout, s.lastLines(ctx, r, 20))
	case <-ctx.Done():
		return r, ctx.Err()
	}
	if err := s.starts.failure(st); err != nil {
		return r, err
	}
	return s.store.get(ctx, r.ID)
}

// waitUp returns the sandbox once it runs and its setup is done, waiting at
// most bound while it starts. A sandbox whose start this process does not
// follow (one begun before a restart) is waited for by its row.
func (s *Service) waitUp(ctx context.Context, r Row, bound time.Duration) (Row, error) {
	st := s.starts.get(r.ID)
	if st == nil && r.State != Creating {
		return r, nil
	}
	timer := time.NewTimer(bound)
	defer timer.Stop()
	if st == nil {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for r.State == Creating {
			select {
			case <-tick.C:
			case <-timer.C:
				return r, errReadyTimeout(bound)
			case <-ctx.Done():
				return r, ctx.Err()
			}
			cur, err := s.store.get(ctx, r.ID)
			if err != nil {
				return r, err
			}
			r = cur
		}
		return r, nil
	}
	select {
	case <-st.up:
	case <-timer.C:
		return r, errReadyTimeout(bound)
	case <-ctx.Done():
		return r, ctx.Err()
	}
	if err := s.starts.failure(st); err != nil {
		return r, err
	}
	return s.store.get(ctx, r.ID)
}

// startTimeout is how long a template's agent has to answer health.
func startTimeout(t Template) time.Duration {
	if t.StartTimeoutSeconds > 0 {
		return time.Duration(t.StartTimeoutSeconds) * time.Second
	}
	return DefaultStartTimeout
}

// lastLines is the end of the agent's log, for a failed start's reason.
func (s *Service) lastLines(ctx context.Context, r Row, n int) string {
	out, err := s.node(r).Logs(ctx, r.ID, n)
	if err != nil || strings.TrimSpace(out.Logs) == "" {
		return ""
	}
	return fmt.Sprintf("; its last log lines:\n%s", strings.TrimRight(out.Logs, "\n"))
}
