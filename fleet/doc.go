// Package fleet is the platform's side of its worker nodes: enrollment
// tokens and credentials, the live tunnel of each connected node and its
// heartbeats, placement of new sandboxes (the least loaded node whose labels
// fit), the nodes.* methods, and the one typed client through which the
// control plane calls a node. It knows nothing of sandboxes' records; the
// sandbox service listens to nodes through Hooks.
package fleet
