package publish

import (
	"context"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Register binds sessions.publish of the platform RPC.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.SessionsPublish, rpc.WithOrg(func(ctx context.Context, org string, in methods.PublishSessionInput) (methods.PublishSessionOutput, error) {
		return s.Publish(ctx, org, in.InstanceID, in.SessionID)
	}))
}

// RegisterInstance binds publishSession of the instance RPC.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.PublishSession, instance.Method(func(ctx context.Context, ins instance.Row, _ rpc.Caller, in methods.InstancePublishSessionInput) (methods.PublishSessionOutput, error) {
		org, inst := ins.OrgID, ins.ID
		return s.Publish(ctx, org, inst, in.SessionID)
	}))
}
