package bundles

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Register binds the bundles.* methods.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.BundlesPublish, rpc.WithOrg(s.Publish))
	rpc.Register(r, methods.BundlesList, rpc.WithOrg(s.List))
	rpc.Register(r, methods.BundlesGet, rpc.WithOrg(s.Get))
	rpc.Register(r, methods.BundlesDelete, rpc.WithOrg(func(ctx context.Context, org string, in methods.DeleteBundleInput) (methods.DeleteBundleOutput, error) {
		if err := s.Delete(ctx, org, in); err != nil {
			return methods.DeleteBundleOutput{}, err
		}
		return methods.DeleteBundleOutput{OK: true}, nil
	}))
}
