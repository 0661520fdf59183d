package services

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

// Register binds services.getUrl of the platform RPC.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.ServicesGetURL, rpc.WithOrg(func(ctx context.Context, org string, in methods.GetServiceURLInput) (methods.GetServiceURLOutput, error) {
		return s.ServiceURL(ctx, org, in.InstanceID, in.SessionID, in.ServiceType)
	}))
}

// RegisterInstance binds getServiceUrl and getServiceUrls of the instance
// RPC.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.GetServiceURL, onInstance(func(ctx context.Context, org, inst string, in methods.InstanceGetServiceURLInput) (methods.GetServiceURLOutput, error) {
		return s.ServiceURL(ctx, org, inst, in.SessionID, in.ServiceType)
	}))
	rpc.Register(r, methods.GetServiceURLs, onInstance(func(ctx context.Context, org, inst string, in methods.InstanceGetServiceURLsInput) (methods.InstanceGetServiceURLsOutput, error) {
		return s.ServiceURLs(ctx, org, inst, in.SessionID)
	}))
}
