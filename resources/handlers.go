package resources

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Register binds the resources.* methods.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.ResourcesCreate, rpc.WithOrg(s.Create))
	rpc.Register(r, methods.ResourcesAddRevision, rpc.WithOrg(s.AddRevision))
	rpc.Register(r, methods.ResourcesGet, rpc.WithOrg(s.Get))
	rpc.Register(r, methods.ResourcesList, rpc.WithOrg(s.List))
	rpc.Register(r, methods.ResourcesDelete, rpc.WithOrg(func(ctx context.Context, org string, in methods.DeleteResourceInput) (methods.DeleteResourceOutput, error) {
		if err := s.Delete(ctx, org, in.ResourceID); err != nil {
			return methods.DeleteResourceOutput{}, err
		}
		return methods.DeleteResourceOutput{OK: true}, nil
	}))
}
