package instance

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// An instance call resolves its instance once: authentication reads the
// row (to check the token's instance is active) and puts it on the call's
// context, and every handler of the call takes it from there.

type rowKey struct{}

// WithRow returns ctx carrying the instance the call acts on.
func WithRow(ctx context.Context, r Row) context.Context {
	return context.WithValue(ctx, rowKey{}, r)
}

// FromContext returns the instance authentication resolved for the call.
func FromContext(ctx context.Context) (Row, bool) {
	r, ok := ctx.Value(rowKey{}).(Row)
	return r, ok
}

var errNoInstance = &rpc.Error{Type: methods.Unauthorized,
	Message: "This method needs an instance token: send it as Authorization: Bearer <token>."}

// Method adapts an instance-RPC method: inst is the instance the caller's
// token opens, already checked and read by authentication.
func Method[In, Out any](fn func(ctx context.Context, inst Row, c rpc.Caller, in In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		c, ok := rpc.CallerFrom(ctx)
		inst, found := FromContext(ctx)
		if !ok || c.InstanceID == "" || !found || inst.ID != c.InstanceID || inst.OrgID != c.OrgID {
			var zero Out
			return zero, errNoInstance
		}
		return fn(ctx, inst, c, in)
	}
}

// Active returns the org's instance with this id that takes new work: the
// one the call's authentication resolved, or else read now.
func (s *Service) Active(ctx context.Context, orgID, id string) (Row, error) {
	if r, ok := FromContext(ctx); ok && r.ID == id && r.OrgID == orgID {
		return r, nil
	}
	return s.LookupActive(ctx, orgID, id)
}
