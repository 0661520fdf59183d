// Package sandbox is the control-plane side of sandboxes: the templates that
// name a sandbox's defaults (isolation, limits, network policy, idle timeout,
// required node labels), and later the sandbox records, their lifecycle and
// the scheduler.
package sandbox
