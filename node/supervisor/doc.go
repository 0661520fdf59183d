// Package supervisor is `roost sandbox-init`: the first process inside a
// sandbox (PID 1 of its namespaces). It starts the bundle's agent and
// restarts it on crash with backoff, captures its output to a capped,
// rotated log, runs exec'd commands, reaps every orphan, and tells the node
// what happens, through an HTTP API on a unix socket that the node reaches
// from outside the sandbox.
package supervisor
