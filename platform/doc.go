// Package platform is roost's composition root: it reads the configuration,
// opens the database, loads templates and signing keys, authenticates
// requests (API keys, instance tokens, the instance cookie), routes them, and
// wires each domain's handlers into the RPC registries. It is the only
// package that knows echo.
package platform
