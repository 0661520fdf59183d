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

// view is what a caller may do with a node: nothing (it does not see it),
// look at it (a shared node its instances run on), or run it (an
// operator, or the organization that owns it).
type view int

const (
	viewNone view = iota
	viewLook
	viewRun
)

// viewOf tells what the caller may do with the node.
func (f *Fleet) viewOf(c rpc.Caller, r NodeRow, runsOn map[string]bool) view {
	switch {
	case c.Operator, r.OrgID != "" && r.OrgID == c.OrgID:
		return viewRun
	case r.OrgID == "" && runsOn[r.ID]:
		return viewLook
	}
	return viewNone
}

// runsOn lists the nodes the caller's organization's sandboxes run on.
func (f *Fleet) runsOn(ctx context.Context, c rpc.Caller) (map[string]bool, error) {
	out := map[string]bool{}
	hk := f.getHooks()
	if c.Operator || hk.NodesOf == nil {
		return out, nil
	}
	ids, err := hk.NodesOf(ctx, c.OrgID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// wireFor is a node as the caller may see it.
func (f *Fleet) wireFor(v view, r NodeRow) methods.Node {
	if v == viewLook {
		return f.wireShared(r)
	}
	return f.Wire(r)
}

// nodeFor finds a node the caller may act on with at least want: one it
// does not see is not found; a shared one it may only look at is
// forbidden to change.
func (f *Fleet) nodeFor(ctx context.Context, c rpc.Caller, id string, want view) (NodeRow, view, error) {
	r, err := f.Get(ctx, id)
	if err != nil {
		return NodeRow{}, viewNone, err
	}
	on, err := f.runsOn(ctx, c)
	if err != nil {
		return NodeRow{}, viewNone, err
	}
	v := f.viewOf(c, r, on)
	switch {
	case v == viewNone:
		return NodeRow{}, v, ErrNodeNotFound
	case v < want:
		return NodeRow{}, v, ErrShared
	}
	return r, v, nil
}

// RegisterAdmin binds the nodes.* methods; baseURL gives the platform's
// public URL for install commands. An operator key runs every node; an
// organization's admin key runs the nodes of its own (and enrolls them),
// and sees the shared nodes its instances run on.
func (f *Fleet) RegisterAdmin(r *rpc.Registry, baseURL func() string) {
	rpc.Register(r, methods.NodesList, admin(func(ctx context.Context, c rpc.Caller, _ methods.ListNodesInput) (methods.ListNodesOutput, error) {
		rows, err := f.List(ctx)
		if err != nil {
			return methods.ListNodesOutput{}, err
		}
		on, err := f.runsOn(ctx, c)
		if err != nil {
			return methods.ListNodesOutput{}, err
		}
		out := methods.ListNodesOutput{Nodes: make([]methods.Node, 0, len(rows))}
		for _, row := range rows {
			if v := f.viewOf(c, row, on); v != viewNone {
				out.Nodes = append(out.Nodes, f.wireFor(v, row))
			}
		}
		return out, nil
	}))
	rpc.Register(r, methods.NodesGet, admin(func(ctx context.Context, c rpc.Caller, in methods.NodeRef) (methods.Node, error) {
		row, v, err := f.nodeFor(ctx, c, in.NodeID, viewLook)
		if err != nil {
			return methods.Node{}, err
		}
		return f.wireFor(v, row), nil
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
		// An operator enrolls nodes of the shared fleet; an organization's
		// admin, nodes of its own.
		create := f.CreateEnrollToken
		if !c.Operator {
			create = func(ctx context.Context, by string, ttl time.Duration, labels []string) (string, time.Time, error) {
				return f.CreateOrgEnrollToken(ctx, c.OrgID, by, ttl, labels)
			}
		}
		tok, exp, err := create(ctx, c.ID, ttl, labels)
		if err != nil {
			return methods.CreateEnrollTokenOutput{}, err
		}
		return methods.CreateEnrollTokenOutput{Token: tok, ExpiresAt: exp.UTC().Format(time.RFC3339),
			InstallCommand: InstallCommand(baseURL(), tok), Shared: c.Operator}, nil
	}))
	for name, draining := range map[string]bool{methods.NodesDrain: true, methods.NodesUndrain: false} {
		rpc.Register(r, name, admin(func(ctx context.Context, c rpc.Caller, in methods.NodeRef) (methods.OKOutput, error) {
			if _, _, err := f.nodeFor(ctx, c, in.NodeID, viewRun); err != nil {
				return methods.OKOutput{}, err
			}
			if err := f.SetDraining(ctx, in.NodeID, draining); err != nil {
				return methods.OKOutput{}, err
			}
			return methods.OKOutput{OK: true}, nil
		}))
	}
	rpc.Register(r, methods.NodesRemove, admin(func(ctx context.Context, c rpc.Caller, in methods.NodeRef) (methods.OKOutput, error) {
		if _, _, err := f.nodeFor(ctx, c, in.NodeID, viewRun); err != nil {
			return methods.OKOutput{}, err
		}
		if err := f.Remove(ctx, in.NodeID); err != nil {
			return methods.OKOutput{}, err
		}
		return methods.OKOutput{OK: true}, nil
	}))
}
