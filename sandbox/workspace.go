package sandbox

import (
	"context"
	"io"
	"time"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// ErrNoFile answers a read of a workspace file that does not exist.
var ErrNoFile = &rpc.Error{Type: methods.NotFound, Message: "The file does not exist in the sandbox's workspace."}

// Usable returns the instance's live sandbox ready for work (resuming it
// if it was paused for idleness).
func (s *Service) Usable(ctx context.Context, inst instance.Row) (Row, error) {
	return s.usable(ctx, inst, "")
}

// Touch records activity in a sandbox (a write every few seconds at most).
func (s *Service) Touch(ctx context.Context, sandboxID string) { s.store.touch(ctx, sandboxID) }

// Run runs a command for the platform's own needs (git, setup) in a
// sandbox; it is not part of the instance's exec history.
func (s *Service) Run(ctx context.Context, r Row, command string, timeout time.Duration) (nodeapi.ExecResult, error) {
	res, err := s.node(r).Exec(ctx, r.ID, nodeapi.ExecRequest{ExecID: storage.NewID("sys"), Command: command, TimeoutMs: timeout.Milliseconds()})
	if err != nil {
		return res, s.nodeFailure(ctx, &r, err)
	}
	return res, nil
}

// PutFile writes body to path (relative to /workspace) in a sandbox, owned
// by the sandbox's user.
func (s *Service) PutFile(ctx context.Context, r Row, path string, body io.Reader) error {
	if err := s.node(r).PutFile(ctx, r.ID, path, body); err != nil {
		return s.nodeFailure(ctx, &r, err)
	}
	return nil
}

// OpenFile reads a file (relative to /workspace) of a sandbox.
func (s *Service) OpenFile(ctx context.Context, r Row, path string) (io.ReadCloser, error) {
	rc, err := s.node(r).OpenFile(ctx, r.ID, path)
	if err != nil {
		return nil, s.nodeFailure(ctx, &r, err)
	}
	return rc, nil
}
