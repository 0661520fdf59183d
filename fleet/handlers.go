package fleet

import (
	"context"
	"time"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// admin adapts a node-administration method: admin API keys only.
func admin[In, Out any](fn func(ctx context.Context, c rpc.Caller, in In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		c, ok := rpc.CallerFrom(ctx)
		if !ok || c.Kind != "key" || !c.Admin {
			var zero Out
			return zero, ErrNotAdmin
		}
		return fn(ctx, c, in)
	}
}

// RegisterAdmin binds the nodes.* methods; baseURL gives the platform's
// public URL for install commands.
func (f *Fleet) RegisterAdmin(r *rpc.Registry, baseURL func() string) {
	rpc.Register(r, methods.NodesList, admin(func(ctx context.Context, _ rpc.Caller, _ methods.ListNodesInput) (methods.ListNodesOutput, error) {
		rows, err := f.List(ctx)
		if err != nil {
			return methods.ListNodesOutput{}, err
		}
		out := methods.ListNodesOutput{Nodes: make([]methods.Node, 0, len(rows))}
		for _, row := range rows {
			out.Nodes = append(out.Nodes, f.Wire(row))
		}
		return out, nil
	}))
	rpc.Register(r, methods.NodesGet, admin(func(ctx context.Context, _ rpc.Caller, in methods.NodeRef) (methods.Node, error) {
		row, err := f.Get(ctx, in.NodeID)
		if err != nil {
			return methods.Node{}, err
		}
		return f.Wire(row), nil
	}))
	rpc.Register(r, methods.NodesCreateEnrollToken, admin(func(ctx context.Context, c rpc.Caller, in methods.CreateEnrollTokenInput) (methods.CreateEnrollTokenOutput, error) {
		ttl := DefaultEnrollTTL
		if in.TTL != nil {
			if *in.TTL < 1 || *in.TTL > int(MaxEnrollTTL/time.Second) {
				return methods.CreateEnrollTokenOutput{}, rpc.InvalidField("ttl", "range", "The ttl must be between 1 and %d seconds (7 days).", int(MaxEnrollTTL.Seconds()))
			}
			ttl = time.Duration(*in.TTL) * time.Second
		}
		labels, err := CheckLabels("labels", in.Labels)
		if err != nil {
			return methods.CreateEnrollTokenOutput{}, err
		}
		tok, exp, err := f.CreateEnrollToken(ctx, c.ID, ttl, labels)
		if err != nil {
			return methods.CreateEnrollTokenOutput{}, err
		}
		return methods.CreateEnrollTokenOutput{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339),
			InstallCommand: InstallCommand(baseURL(), tok)}, nil
	}))
	for name, draining := range map[string]bool{methods.NodesDrain: true, methods.NodesUndrain: false} {
		rpc.Register(r, name, admin(func(ctx context.Context, _ rpc.Caller, in methods.NodeRef) (methods.OKOutput, error) {
			if err := f.SetDraining(ctx, in.NodeID, draining); err != nil {
				return methods.OKOutput{}, err
			}
			return methods.OKOutput{OK: true}, nil
		}))
	}
	rpc.Register(r, methods.NodesRemove, admin(func(ctx context.Context, _ rpc.Caller, in methods.NodeRef) (methods.OKOutput, error) {
		if err := f.Remove(ctx, in.NodeID); err != nil {
			return methods.OKOutput{}, err
		}
		return methods.OKOutput{OK: true}, nil
	}))
}
