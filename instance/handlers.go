package instance

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Register binds instances.* and tokens.create to the platform registry.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.InstancesCreate, rpc.WithOrg(s.Create))
	rpc.Register(r, methods.InstancesGet, rpc.WithOrg(func(ctx context.Context, org string, in methods.GetInstanceInput) (methods.GetInstanceOutput, error) {
		return s.Get(ctx, org, in.InstanceID)
	}))
	rpc.Register(r, methods.InstancesList, rpc.WithOrg(s.List))
	rpc.Register(r, methods.InstancesStatus, rpc.WithOrg(func(ctx context.Context, org string, in methods.GetInstanceStatusInput) (methods.GetInstanceStatusOutput, error) {
		return s.Status(ctx, org, in.InstanceID)
	}))
	rpc.Register(r, methods.InstancesArchive, rpc.WithOrg(func(ctx context.Context, org string, in methods.ArchiveInstanceInput) (methods.ArchiveInstanceOutput, error) {
		if err := s.Archive(ctx, org, in.InstanceID); err != nil {
			return methods.ArchiveInstanceOutput{}, err
		}
		return methods.ArchiveInstanceOutput{OK: true}, nil
	}))
	rpc.Register(r, methods.TokensCreate, rpc.WithOrg(s.CreateToken))
}

// RegisterInstance binds getInstanceStatus to the instance registry.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.GetInstanceStatus, Method(func(ctx context.Context, inst Row, _ rpc.Caller, _ methods.InstanceGetStatusInput) (methods.InstanceGetStatusOutput, error) {
		st, err := s.Status(ctx, inst.OrgID, inst.ID)
		if err != nil {
			return methods.InstanceGetStatusOutput{}, err
		}
		out := methods.InstanceGetStatusOutput{GetInstanceStatusOutput: st, Name: inst.Name}
		if s.sessions != nil {
			out.Presets, out.Services, err = s.sessions.Presets(ctx, inst.OrgID, inst.ID)
		}
		return out, err
	}))
}
