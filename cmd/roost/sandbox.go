package main

import (
	"errors"

	"github.com/roosthq/roost/node/supervisor"
)

// cmdSandboxInit is the supervisor, PID 1 of a sandbox. The node starts it;
// people do not.
func cmdSandboxInit(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: roost sandbox-init SPEC.json (started by the node)")
	}
	return supervisor.Run(args[0])
}
