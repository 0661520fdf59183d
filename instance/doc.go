// Package instance owns instances: an agent created from a template and a
// bundle revision on behalf of an organization. It keeps their rows and
// lifecycle events, validates what instances.create accepts, and binds the
// instances.* methods. Every query is scoped to the caller's organization.
package instance
