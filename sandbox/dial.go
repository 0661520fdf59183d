package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/rpc"
)

// ErrNothingListens answers a dial to a port no process serves.
var ErrNothingListens = &rpc.Error{Type: methods.Unavailable,
	Message: "Nothing in the sandbox listens on that port yet. Start the service, then retry."}

// Dial connects to a port inside a sandbox's own network, through its node
// and its supervisor. The connection carries raw bytes both ways.
func (s *Service) Dial(ctx context.Context, r Row, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port %d out of range", port)
	}
	if r.State == Paused && r.PausedBy == "idle" {
		if err := s.resume(ctx, &r); err != nil {
			return nil, err
		}
	}
	if r.State != Running {
		return nil, rpc.Errorf(methods.Conflict, "The sandbox is %s; its services answer only while it runs.", r.State)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+nodeapi.TunnelHost+pathOf(nodeapi.SandboxDialPath, r.ID, "")+"?port="+strconv.Itoa(port), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "roost-dial")
	resp, err := s.o.Fleet.Do(req, r.NodeID)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			return nil, ErrNothingListens
		}
		return nil, s.nodeFailure(ctx, &r, &nodeError{status: resp.StatusCode, msg: "dial refused"})
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return nil, errors.New("the node's dial answer is not a stream")
	}
	s.store.touch(ctx, r.ID)
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

// Transport is an HTTP transport whose connections go to a port inside a
// sandbox; it carries streaming responses and upgrades (websockets).
func (s *Service) Transport(r Row, port int) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return s.Dial(ctx, r, port)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}
