package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/roosthq/roost/methods"
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
	if r.State == Creating {
		var err error
		if r, err = s.waitUp(ctx, r, s.o.ReadyWait); err != nil {
			return nil, err
		}
	}
	if r.State == Paused && r.PausedBy == "idle" {
		if err := s.resume(ctx, &r); err != nil {
			return nil, err
		}
	}
	if r.State != Running {
		return nil, rpc.Errorf(methods.Conflict, "The sandbox is %s; its services answer only while it runs.", r.State)
	}
	conn, err := s.node(r).Dial(ctx, r.ID, port)
	if err != nil {
		return nil, s.nodeFailure(ctx, &r, err)
	}
	s.store.touch(ctx, r.ID)
	return conn, nil
}

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
