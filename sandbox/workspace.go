package sandbox

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// ErrNoFile answers a read of a workspace file that does not exist.
var ErrNoFile = &rpc.Error{Type: methods.NotFound, Message: "The file does not exist in the sandbox's workspace."}

// Usable returns the instance's live sandbox ready for work (resuming it
// if it was paused for idleness).
func (s *Service) Usable(ctx context.Context, inst InstanceInfo) (Row, error) {
	return s.usable(ctx, inst, "")
}

// Run runs a command for the platform's own needs (git, setup) in a
// sandbox; it is not part of the instance's exec history.
func (s *Service) Run(ctx context.Context, r Row, command string, timeout time.Duration) (nodeapi.ExecResult, error) {
	var res nodeapi.ExecResult
	err := s.callNode(ctx, r.NodeID, http.MethodPost, pathOf(nodeapi.SandboxExecPath, r.ID, ""),
		nodeapi.ExecRequest{ExecID: storage.NewID("sys"), Command: command, TimeoutMs: timeout.Milliseconds()}, &res)
	if err != nil {
		return res, s.nodeFailure(ctx, &r, err)
	}
	return res, nil
}

// PutFile writes body to path (relative to /workspace) in a sandbox, owned
// by the sandbox's user.
func (s *Service) PutFile(ctx context.Context, r Row, path string, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut,
		"http://"+nodeapi.TunnelHost+pathOf(nodeapi.SandboxFilesPath, r.ID, "")+"?path="+url.QueryEscape(path), body)
	if err != nil {
		return err
	}
	resp, err := s.o.Fleet.Do(req, r.NodeID)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s.nodeFailure(ctx, &r, &nodeError{status: resp.StatusCode, msg: "put file refused"})
	}
	return nil
}

// OpenFile reads a file (relative to /workspace) of a sandbox.
func (s *Service) OpenFile(ctx context.Context, r Row, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+nodeapi.TunnelHost+pathOf(nodeapi.SandboxFilesPath, r.ID, "")+"?path="+url.QueryEscape(path), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.o.Fleet.Do(req, r.NodeID)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, ErrNoFile
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, s.nodeFailure(ctx, &r, &nodeError{status: resp.StatusCode, msg: "read file refused"})
	}
	return resp.Body, nil
}
