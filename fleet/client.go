package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/roosthq/roost/node/nodeapi"
)

// NodeError is a node's refusal of a call, with the code it gave.
type NodeError struct {
	NodeID  string
	Status  int
	Code    nodeapi.ErrorCode
	Message string
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("node %s answered %d %s: %s", e.NodeID, e.Status, e.Code, e.Message)
}

// CodeOf is the code of a node's refusal in err's chain, or "" when err is
// not a refusal (the node was not reached, say).
func CodeOf(err error) nodeapi.ErrorCode {
	var ne *NodeError
	if errors.As(err, &ne) {
		return ne.Code
	}
	return ""
}

// Client calls one node's API through its tunnel. It is the only way the
// control plane talks to a node.
type Client struct {
	f    *Fleet
	node string
}

// Node returns the client of a node; a node that is not connected answers
// every call unavailable.
func (f *Fleet) Node(id string) Client { return Client{f: f, node: id} }

// ID is the node's id.
func (c Client) ID() string { return c.node }

func sandboxPath(pattern, sandboxID string) string {
	return strings.Replace(pattern, "{id}", url.PathEscape(sandboxID), 1)
}

func execPath(pattern, sandboxID, execID string) string {
	return strings.Replace(sandboxPath(pattern, sandboxID), "{exec}", url.PathEscape(execID), 1)
}

// request sends one request to the node; a reply other than 2xx/101 is a
// *NodeError.
func (c Client) request(ctx context.Context, method, path string, body io.Reader, contentType string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+nodeapi.TunnelHost+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.f.do(req, c.node)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, nil
	}
	defer resp.Body.Close()
	var e nodeapi.ErrorResponse
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	if e.Code == "" {
		e.Code = nodeapi.CodeInternal
	}
	return nil, &NodeError{NodeID: c.node, Status: resp.StatusCode, Code: e.Code, Message: e.Error}
}

// call sends in as JSON and decodes the JSON reply into out.
func (c Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.request(ctx, method, path, body, "application/json", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Unavailable(c.node, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("node %s: bad reply to %s %s: %w", c.node, method, path, err)
	}
	return nil
}

// Start starts a sandbox (or answers the one already running).
func (c Client) Start(ctx context.Context, spec nodeapi.SandboxSpec) (nodeapi.SandboxInfo, error) {
	var info nodeapi.SandboxInfo
	err := c.call(ctx, http.MethodPut, sandboxPath(nodeapi.SandboxPath, spec.SandboxID), spec, &info)
	return info, err
}

// SetPools replaces the warm pools the node keeps, and answers them.
func (c Client) SetPools(ctx context.Context, cfg nodeapi.PoolConfig) ([]nodeapi.PoolStatus, error) {
	var out []nodeapi.PoolStatus
	err := c.call(ctx, http.MethodPut, nodeapi.PoolPath, cfg, &out)
	return out, err
}

// Remove stops a sandbox and deletes it from the node; a sandbox already
// gone is no error.
func (c Client) Remove(ctx context.Context, sandboxID string) error {
	return c.call(ctx, http.MethodDelete, sandboxPath(nodeapi.SandboxPath, sandboxID), nil, nil)
}

// RemoveKeepWorkspace stops a sandbox and deletes all of it from the node
// but its workspace, which a later sandbox of the instance takes over.
func (c Client) RemoveKeepWorkspace(ctx context.Context, sandboxID string) error {
	return c.call(ctx, http.MethodDelete, sandboxPath(nodeapi.SandboxPath, sandboxID)+"?keep=workspace", nil, nil)
}

// Pause freezes a sandbox.
func (c Client) Pause(ctx context.Context, sandboxID string) error {
	return c.call(ctx, http.MethodPost, sandboxPath(nodeapi.SandboxPausePath, sandboxID), nil, nil)
}

// Resume thaws a sandbox.
func (c Client) Resume(ctx context.Context, sandboxID string) error {
	return c.call(ctx, http.MethodPost, sandboxPath(nodeapi.SandboxResumePath, sandboxID), nil, nil)
}

// RestartAgent restarts a sandbox's agent.
func (c Client) RestartAgent(ctx context.Context, sandboxID string) error {
	return c.call(ctx, http.MethodPost, sandboxPath(nodeapi.SandboxRestartPath, sandboxID), nil, nil)
}

// Logs returns the last lines of a sandbox's agent log.
func (c Client) Logs(ctx context.Context, sandboxID string, lines int) (nodeapi.LogsResult, error) {
	var out nodeapi.LogsResult
	err := c.call(ctx, http.MethodGet, sandboxPath(nodeapi.SandboxLogsPath, sandboxID)+"?lines="+strconv.Itoa(lines), nil, &out)
	return out, err
}

// Exec runs a command in a sandbox and waits for it.
func (c Client) Exec(ctx context.Context, sandboxID string, req nodeapi.ExecRequest) (nodeapi.ExecResult, error) {
	var out nodeapi.ExecResult
	err := c.call(ctx, http.MethodPost, sandboxPath(nodeapi.SandboxExecPath, sandboxID), req, &out)
	return out, err
}

// CancelExec kills a running command; it reports whether one was running.
func (c Client) CancelExec(ctx context.Context, sandboxID, execID string) (bool, error) {
	var out struct {
		Cancelled bool `json:"cancelled"`
	}
	err := c.call(ctx, http.MethodPost, execPath(nodeapi.SandboxExecCancel, sandboxID, execID), struct{}{}, &out)
	return out.Cancelled, err
}

// ExecOutput reads up to limit bytes of a command's stream from offset,
// with the stream's total size.
func (c Client) ExecOutput(ctx context.Context, sandboxID, execID, stream string, offset, limit int64) ([]byte, int64, error) {
	path := execPath(nodeapi.SandboxExecOutput, sandboxID, execID) + "?stream=" + url.QueryEscape(stream) +
		"&offset=" + strconv.FormatInt(offset, 10) + "&limit=" + strconv.FormatInt(limit, 10)
	resp, err := c.request(ctx, http.MethodGet, path, nil, "", nil)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, 0, Unavailable(c.node, err)
	}
	total, _ := strconv.ParseInt(resp.Header.Get("X-Total-Size"), 10, 64)
	return data, total, nil
}

// PutFile writes body to path (relative to the workspace) in a sandbox.
func (c Client) PutFile(ctx context.Context, sandboxID, path string, body io.Reader) error {
	resp, err := c.request(ctx, http.MethodPut, sandboxPath(nodeapi.SandboxFilesPath, sandboxID)+"?path="+url.QueryEscape(path),
		body, "application/octet-stream", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// OpenFile reads a file (relative to the workspace) of a sandbox.
func (c Client) OpenFile(ctx context.Context, sandboxID, path string) (io.ReadCloser, error) {
	resp, err := c.request(ctx, http.MethodGet, sandboxPath(nodeapi.SandboxFilesPath, sandboxID)+"?path="+url.QueryEscape(path), nil, "", nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// LocalDialer is a node in the platform's own process (the embedded node):
// its sandboxes' ports are dialed directly instead of through its tunnel.
// Its errors carry the node API's code by a NodeCode method.
type LocalDialer interface {
	DialSandbox(ctx context.Context, sandboxID string, port int) (net.Conn, error)
}

// SetLocal marks a node as running in this process. Its calls other than
// Dial still cross its tunnel, and Dial too answers unavailable while the
// tunnel is down, as for any node.
func (f *Fleet) SetLocal(nodeID string, d LocalDialer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.local == nil {
		f.local = map[string]LocalDialer{}
	}
	f.local[nodeID] = d
}

// localDialer is the node's LocalDialer when the node is in this process
// and connected.
func (f *Fleet) localDialer(nodeID string) LocalDialer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live[nodeID] == nil {
		return nil
	}
	return f.local[nodeID]
}

// Dial connects to a port inside a sandbox's own network, through the node
// (and its tunnel, unless the node runs in this process). The connection
// carries raw bytes both ways.
func (c Client) Dial(ctx context.Context, sandboxID string, port int) (net.Conn, error) {
	if d := c.f.localDialer(c.node); d != nil {
		conn, err := d.DialSandbox(ctx, sandboxID, port)
		if err != nil {
			code := nodeapi.CodeInternal
			var coded interface{ NodeCode() nodeapi.ErrorCode }
			if errors.As(err, &coded) {
				code = coded.NodeCode()
			}
			return nil, &NodeError{NodeID: c.node, Status: code.Status(), Code: code, Message: err.Error()}
		}
		return conn, nil
	}
	hdr := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"roost-dial"}}
	resp, err := c.request(ctx, http.MethodGet, sandboxPath(nodeapi.SandboxDialPath, sandboxID)+"?port="+strconv.Itoa(port), nil, "", hdr)
	if err != nil {
		return nil, err
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != http.StatusSwitchingProtocols || !ok {
		resp.Body.Close()
		return nil, &NodeError{NodeID: c.node, Status: resp.StatusCode, Code: nodeapi.CodeInternal, Message: "the node's dial answer is not a stream"}
	}
	return &streamConn{rwc: rwc, port: port}, nil
}

// streamConn presents a raw stream as a net.Conn for HTTP transports.
type streamConn struct {
	rwc  io.ReadWriteCloser
	port int
}

func (c *streamConn) Read(p []byte) (int, error)  { return c.rwc.Read(p) }
func (c *streamConn) Write(p []byte) (int, error) { return c.rwc.Write(p) }
func (c *streamConn) Close() error                { return c.rwc.Close() }
func (c *streamConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (c *streamConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.port}
}
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

// Echo sends body to the node and streams it back: a check that calls
// reach the node and that a cut connection ends them.
func (c Client) Echo(ctx context.Context, body io.Reader) (io.ReadCloser, error) {
	resp, err := c.request(ctx, http.MethodPost, nodeapi.EchoPath, body, "application/octet-stream", nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Info is what the node says of itself.
func (c Client) Info(ctx context.Context) (nodeapi.Info, error) {
	var out nodeapi.Info
	err := c.call(ctx, http.MethodGet, nodeapi.InfoPath, nil, &out)
	return out, err
}
