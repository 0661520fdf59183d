package methods

// The TypeScript declarations and the OpenRPC document of the wire types
// are generated from the server's registries; CI fails if they are stale.
//go:generate go run ../cmd/roost-gen -out ../clients/typescript/src/generated
