package sessions

import (
	"context"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

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
	rpc.Register(r, methods.CreateSession, instance.Method(func(ctx context.Context, ins instance.Row, _ rpc.Caller, in methods.InstanceCreateSessionInput) (methods.InstanceCreateSessionOutput, error) {
		org, inst := ins.OrgID, ins.ID
		out, err := s.Create(ctx, org, inst, CreateInput{PresetID: in.PresetID})
		return methods.InstanceCreateSessionOutput{SessionID: out.SessionID}, err
	}))
	rpc.Register(r, methods.ListSessions, instance.Method(func(ctx context.Context, ins instance.Row, _ rpc.Caller, _ methods.InstanceListSessionsInput) (methods.InstanceListSessionsOutput, error) {
		org, inst := ins.OrgID, ins.ID
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
			out.Sessions = append(out.Sessions, methods.InstanceSession{ID: r.ID, PresetID: p, Status: string(r.Status), CreatedAt: r.CreatedAt})
		}
		return out, nil
	}))
	rpc.Register(r, methods.GetSessionToken, instance.Method(func(ctx context.Context, ins instance.Row, _ rpc.Caller, in methods.InstanceGetSessionTokenInput) (methods.InstanceGetSessionTokenOutput, error) {
		org, inst := ins.OrgID, ins.ID
		return s.SessionToken(ctx, org, inst, in.SessionID, in.ExpiresIn)
	}))
}
