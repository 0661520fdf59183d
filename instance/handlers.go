package instance

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Register binds the instances.* and sessions.list methods to the platform
// registry.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.InstancesCreate, func(ctx context.Context, in methods.CreateInstanceInput) (methods.CreateInstanceOutput, error) {
		org, err := rpc.OrgOf(ctx)
		if err != nil {
			return methods.CreateInstanceOutput{}, err
		}
		return s.Create(ctx, org, in)
	})
	rpc.Register(r, methods.InstancesGet, func(ctx context.Context, in methods.GetInstanceInput) (methods.GetInstanceOutput, error) {
		org, err := rpc.OrgOf(ctx)
		if err != nil {
			return methods.GetInstanceOutput{}, err
		}
		return s.Get(ctx, org, in.InstanceID)
	})
	rpc.Register(r, methods.InstancesList, func(ctx context.Context, in methods.ListInstancesInput) (methods.ListInstancesOutput, error) {
		org, err := rpc.OrgOf(ctx)
		if err != nil {
			return methods.ListInstancesOutput{}, err
		}
		return s.List(ctx, org, in)
	})
	rpc.Register(r, methods.InstancesStatus, func(ctx context.Context, in methods.GetInstanceStatusInput) (methods.GetInstanceStatusOutput, error) {
		org, err := rpc.OrgOf(ctx)
		if err != nil {
			return methods.GetInstanceStatusOutput{}, err
		}
		return s.Status(ctx, org, in.InstanceID)
	})
	rpc.Register(r, methods.InstancesArchive, func(ctx context.Context, in methods.ArchiveInstanceInput) (methods.ArchiveInstanceOutput, error) {
		org, err := rpc.OrgOf(ctx)
		if err != nil {
			return methods.ArchiveInstanceOutput{}, err
		}
		if err := s.Archive(ctx, org, in.InstanceID); err != nil {
			return methods.ArchiveInstanceOutput{}, err
		}
		return methods.ArchiveInstanceOutput{OK: true}, nil
	})
}
