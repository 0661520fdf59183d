package instance

import (
	"errors"

	"github.com/roosthq/roost/lifecycle"
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
	StateError        State = methods.InstanceError
	StateArchived     State = methods.InstanceArchived
)

// Lifecycle is the instance's table of allowed moves. An instance is
// initializing while a sandbox starts, ready once its agent answers, in
// error when its sandbox failed (a new sandbox makes it initializing
// again), and archived for good. Its events are the instance's history.
var Lifecycle = lifecycle.New("instance", lifecycle.Rows{Table: "instances", Column: "status", Instance: "id", History: true},
	map[State][]State{
		StateCreated:      {StateInitializing, StateError, StateArchived},
		StateInitializing: {StateReady, StateError, StateArchived},
		StateReady:        {StateInitializing, StateError, StateArchived},
		StateError:        {StateInitializing, StateArchived},
		StateArchived:     {},
	}, StateCreated, StateInitializing, StateReady, StateError)

// checkMove returns nil for an allowed move, and a conflict the client can
// read otherwise, wrapping the *lifecycle.TransitionError.
func checkMove(from, to State) error {
	return conflict(Lifecycle.Check(from, to))
}

// conflict turns a refused move into the error the client reads.
func conflict(err error) error {
	var te *lifecycle.TransitionError
	if !errors.As(err, &te) {
		return err
	}
	if te.From == string(StateArchived) {
		return ErrArchived.Wrap(te)
	}
	return rpc.Errorf(methods.Conflict, "The instance is %s and cannot become %s.", te.From, te.To).Wrap(te)
}
