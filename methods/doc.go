// Package methods holds the wire types of roost's RPC: every method's name,
// input and output, with JSON names exactly as the public contract spells
// them, and the closed set of error types a client can see.
//
// It imports nothing of roost, so that the Go client, the server and the
// generated TypeScript types all share one definition of the wire.
//
// Struct tags: `json` gives the wire name; `required:"true"` marks an input
// field that must be present and non-null (the RPC core enforces it, and the
// schema export reports it). Optional output fields use omitempty; fields the
// contract types as `T | null` are pointers or maps without omitempty.
package methods
