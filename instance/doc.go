// Package instance owns instances: an agent created from a template and a
// bundle revision on behalf of an organization. It keeps their rows and
// lifecycle (history in instance_events), validates what instances.create
// accepts, issues instance tokens (tokens.create), answers
// getInstanceStatus, and binds the instances.* methods. An instance call
// resolves its instance once, at authentication; Method and Active hand it
// to the handlers. Every query is scoped to the caller's organization.
package instance
