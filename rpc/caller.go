package rpc

import (
	"context"

	"github.com/roosthq/roost/methods"
)

// Caller is who makes a call, as authentication found it.
type Caller struct {
	// Kind is "key" for an API key, "token" for an instance token.
	Kind string
	// ID is the API key id or the token id (never the secret).
	ID string
	// OrgID scopes every query the call makes.
	OrgID string
	// Admin is true for admin API keys.
	Admin bool
	// Operator is true for operator keys: admin keys that also run the
	// platform's shared fleet.
	Operator bool
	// InstanceID is the instance an instance token opens.
	InstanceID string
	// Origin is the origin an instance token is bound to, if any.
	Origin string
}

type callerKey struct{}

// WithCaller returns ctx carrying the caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx; ok is false when there is none.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// callInfo is filled while a call runs, for the observers.
type callInfo struct {
	instanceID string
}

type callInfoKey struct{}

// SetInstance records the instance a call acts on, for the audit log.
func SetInstance(ctx context.Context, instanceID string) {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		ci.instanceID = instanceID
	}
}

// errNoCaller guards handlers against a wiring mistake: every call that
// needs an organization must be authenticated before it reaches them.
var errNoCaller = &Error{Type: methods.Unauthorized,
	Message: "This method needs an API key: send it as Authorization: Bearer <key>."}

// OrgOf returns the caller's organization, which scopes every query.
func OrgOf(ctx context.Context) (string, error) {
	c, ok := CallerFrom(ctx)
	if !ok || c.OrgID == "" {
		return "", errNoCaller
	}
	return c.OrgID, nil
}

// WithOrg adapts a method that acts within the caller's organization.
func WithOrg[In, Out any](fn func(ctx context.Context, orgID string, in In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		org, err := OrgOf(ctx)
		if err != nil {
			var zero Out
			return zero, err
		}
		return fn(ctx, org, in)
	}
}
