package sessions

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

// Register binds sessions.create and sessions.list of the platform RPC.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.SessionsCreate, rpc.WithOrg(func(ctx context.Context, org string, in methods.CreateSessionInput) (methods.CreateSessionOutput, error) {
		out, err := s.Create(ctx, org, in.InstanceID, CreateInput{PresetID: in.PresetID, Blocking: in.Blocking,
			Origin: in.Origin, ExpiresIn: in.ExpiresIn, WithToken: true})
		if err != nil {
			return methods.CreateSessionOutput{}, err
		}
		return methods.CreateSessionOutput{SessionID: out.SessionID, Status: out.Status, WSToken: out.WSToken}, nil
	}))
	rpc.Register(r, methods.SessionsList, rpc.WithOrg(func(ctx context.Context, org string, in methods.ListSessionsInput) (methods.ListSessionsOutput, error) {
		rpc.SetInstance(ctx, in.InstanceID)
		if _, err := s.o.Instances.Lookup(ctx, org, in.InstanceID); err != nil {
			return methods.ListSessionsOutput{}, err
		}
		list, err := s.Summaries(ctx, org, in.InstanceID)
		return methods.ListSessionsOutput{Sessions: list}, err
	}))
}

// RegisterInstance binds the session methods of the instance RPC.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.CreateSession, onInstance(func(ctx context.Context, org, inst string, in methods.InstanceCreateSessionInput) (methods.InstanceCreateSessionOutput, error) {
		out, err := s.Create(ctx, org, inst, CreateInput{PresetID: in.PresetID})
		return methods.InstanceCreateSessionOutput{SessionID: out.SessionID}, err
	}))
	rpc.Register(r, methods.ListSessions, onInstance(func(ctx context.Context, org, inst string, _ methods.InstanceListSessionsInput) (methods.InstanceListSessionsOutput, error) {
		rows, err := s.list(ctx, org, inst)
		if err != nil {
			return methods.InstanceListSessionsOutput{}, err
		}
		out := methods.InstanceListSessionsOutput{Sessions: make([]methods.InstanceSession, 0, len(rows))}
		for _, r := range rows {
			var p *string
			if r.PresetID.Valid {
				v := r.PresetID.String
				p = &v
			}
			out.Sessions = append(out.Sessions, methods.InstanceSession{ID: r.ID, PresetID: p, Status: r.Status, CreatedAt: r.CreatedAt})
		}
		return out, nil
	}))
	rpc.Register(r, methods.GetSessionToken, onInstance(func(ctx context.Context, org, inst string, in methods.InstanceGetSessionTokenInput) (methods.InstanceGetSessionTokenOutput, error) {
		return s.SessionToken(ctx, org, inst, in.SessionID, in.ExpiresIn)
	}))
}
