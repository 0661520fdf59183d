package instance

import (
	"fmt"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// State is an instance's lifecycle state.
type State string

// The states an instance moves through.
const (
	StateCreated      State = methods.InstanceCreated
	StateInitializing State = methods.InstanceInitializing
	StateReady        State = methods.InstanceReady
	StateError        State = "error"
	StateArchived     State = methods.InstanceArchived
)

// transitions is the table of allowed moves; anything else is refused.
var transitions = map[State][]State{
	StateCreated:      {StateInitializing, StateReady, StateError, StateArchived},
	StateInitializing: {StateReady, StateCreated, StateError, StateArchived},
	StateReady:        {StateInitializing, StateCreated, StateError, StateArchived},
	StateError:        {StateInitializing, StateCreated, StateArchived},
	StateArchived:     {},
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

// TransitionError is an illegal move of the lifecycle.
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("instance cannot move from %s to %s", e.From, e.To)
}

// checkMove returns nil for an allowed move, and a conflict the client can
// read otherwise, wrapping the TransitionError.
func checkMove(from, to State) error {
	if CanMove(from, to) {
		return nil
	}
	if from == StateArchived {
		return ErrArchived.Wrap(&TransitionError{From: from, To: to})
	}
	return rpc.Errorf(methods.Conflict, "The instance is %s and cannot become %s.", from, to).
		Wrap(&TransitionError{From: from, To: to})
}
