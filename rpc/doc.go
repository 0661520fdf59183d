// Package rpc is roost's typed RPC core: a registry of methods, each a plain
// func(ctx, In) (Out, error) registered under its name. It reads the
// {method, input} envelope, rejects unknown methods and unknown, wrong-typed
// or missing fields with the field's path, maps every error to a wire type
// and HTTP status in one place, and reports each call to observers (metrics,
// audit). It knows no domain: who the caller is comes from the context, put
// there by whoever authenticated the request.
package rpc
