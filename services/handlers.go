package services

import (
	"context"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Register binds services.getUrl of the platform RPC.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.ServicesGetURL, rpc.WithOrg(func(ctx context.Context, org string, in methods.GetServiceURLInput) (methods.GetServiceURLOutput, error) {
		return s.ServiceURL(ctx, org, in.InstanceID, in.SessionID, in.ServiceType)
	}))
}

// RegisterInstance binds getServiceUrl and getServiceUrls of the instance
// RPC.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.GetServiceURL, instance.Method(func(ctx context.Context, ins instance.Row, _ rpc.Caller, in methods.InstanceGetServiceURLInput) (methods.GetServiceURLOutput, error) {
		org, inst := ins.OrgID, ins.ID
		return s.ServiceURL(ctx, org, inst, in.SessionID, in.ServiceType)
	}))
	rpc.Register(r, methods.GetServiceURLs, instance.Method(func(ctx context.Context, ins instance.Row, _ rpc.Caller, in methods.InstanceGetServiceURLsInput) (methods.InstanceGetServiceURLsOutput, error) {
		org, inst := ins.OrgID, ins.ID
		return s.ServiceURLs(ctx, org, inst, in.SessionID)
	}))
}
