package sandbox

import (
	"fmt"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// State is a sandbox's lifecycle state.
type State string

// The states of a sandbox.
const (
	Creating    State = methods.SandboxCreating
	Running     State = methods.SandboxRunning
	Paused      State = methods.SandboxPaused
	Terminating State = methods.SandboxTerminating
	Terminated  State = methods.SandboxTerminated
	Failed      State = methods.SandboxError
)

// transitions is the table of allowed moves; nothing else happens.
var transitions = map[State][]State{
	Creating:    {Running, Terminating, Failed},
	Running:     {Paused, Terminating, Failed},
	Paused:      {Running, Terminating, Failed},
	Terminating: {Terminated, Failed},
	Failed:      {Terminating, Terminated},
	Terminated:  {},
}

// Live states hold the instance's one sandbox.
func (s State) Live() bool {
	return s == Creating || s == Running || s == Paused || s == Terminating
}

// CanMove reports whether from → to is allowed.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionError is an illegal move.
type TransitionError struct{ From, To State }

func (e *TransitionError) Error() string {
	return fmt.Sprintf("sandbox cannot move from %s to %s", e.From, e.To)
}

func illegal(from, to State) error {
	return rpc.Errorf(methods.Conflict, "The sandbox is %s and cannot become %s.", from, to).Wrap(&TransitionError{from, to})
}
