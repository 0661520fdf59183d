package publish

import (
	"context"
	"log/slog"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/sandbox"
)

// Sessions is what publishing asks of the sessions service.
type Sessions interface {
	// LastCommit is the commit the session of the instance last published
	// ("" before its first), or the sessions' error when there is no such
	// session.
	LastCommit(ctx context.Context, orgID, instanceID, sessionID string) (string, error)
	// SetLastCommit records the commit a session published.
	SetLastCommit(ctx context.Context, sessionID, sha string) error
}

// Options configures a Service.
type Options struct {
	Instances *instance.Service
	Sandboxes *sandbox.Service
	Sessions  Sessions
	Git       GitOptions
	Logger    *slog.Logger
}

// Service publishes sessions' work.
type Service struct {
	o   Options
	log *slog.Logger
}

// NewService returns a Service.
func NewService(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{o: o, log: o.Logger}
}

// sentence is an error as the caller would read it.
func sentence(err error) string {
	_, w := rpc.ToWire(err)
	return w.Message
}
