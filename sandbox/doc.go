// Package sandbox is the control plane's side of sandboxes: the templates
// that give a sandbox its defaults (isolation, limits, network policy, idle
// timeout, required node labels), the sandbox records and their lifecycle
// (creating → running ⇄ paused → terminating → terminated, or error), the
// instance-RPC methods that start, pause, resume and end them, and the
// commands run in them with their history. It reaches nodes only through
// fleet's typed client.
package sandbox
