// Command roost-sandbox-init is a sandbox's supervisor on its own: what
// `roost sandbox-init` runs, linked without the rest of the platform, so
// that it starts in a fraction of the time (every cold start waits for
// it). A node uses it when it finds it beside its roost binary, or where
// `roost node --sandbox-init` says; without it, the node starts
// `roost sandbox-init`.
//
// Usage: roost-sandbox-init SPEC.json (started by the node)
package main

import (
	"fmt"
	"os"

	"github.com/roosthq/roost/node/supervisor"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: roost-sandbox-init SPEC.json (started by a roost node)")
		os.Exit(2)
	}
	if err := supervisor.Run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "roost-sandbox-init:", err)
		os.Exit(1)
	}
}
