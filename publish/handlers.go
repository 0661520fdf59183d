package publish

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

var errNoInstance = &rpc.Error{Type: methods.Unauthorized,
	Message: "This method needs an instance token: send it as Authorization: Bearer <token>."}

// onInstance adapts an instance-RPC method to the instance the caller's
// token opens.
func onInstance[In, Out any](fn func(ctx context.Context, orgID, instanceID string, in In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		c, ok := rpc.CallerFrom(ctx)
		if !ok || c.InstanceID == "" {
			var zero Out
			return zero, errNoInstance
		}
		return fn(ctx, c.OrgID, c.InstanceID, in)
	}
}

// Register binds sessions.publish of the platform RPC.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.SessionsPublish, rpc.WithOrg(func(ctx context.Context, org string, in methods.PublishSessionInput) (methods.PublishSessionOutput, error) {
		return s.Publish(ctx, org, in.InstanceID, in.SessionID)
	}))
}

// RegisterInstance binds publishSession of the instance RPC.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.PublishSession, onInstance(func(ctx context.Context, org, inst string, in methods.InstancePublishSessionInput) (methods.PublishSessionOutput, error) {
		return s.Publish(ctx, org, inst, in.SessionID)
	}))
}
