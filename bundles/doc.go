// Package bundles owns bundles: versioned packages of agent code. A
// revision is an uploaded archive (.tar.gz or .zip) with a roost.json
// manifest at its root; publishing validates the whole archive (manifest
// schema, paths, links, entry kinds, sizes) before accepting it, so that
// what a node later unpacks is known to be safe. Instances pin a revision.
package bundles
