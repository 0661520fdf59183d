package testutil

import "github.com/roosthq/roost/node"

// KillSandboxes ends every sandbox a test platform's nodes left behind
// under dataDir, and removes their cgroups.
func KillSandboxes(dataDir string) { node.KillAll(dataDir) }
