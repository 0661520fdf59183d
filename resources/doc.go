// Package resources owns resources: named, versioned files an organization
// keeps for its agents (a prompt pack, a dataset), each a slug with a
// history of revisions that point at uploaded files. Instances get a
// resource's latest revision as an input.
package resources
