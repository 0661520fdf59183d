package instance

import (
	"errors"
	"testing"

	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/lifecycle/lifecycletest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

func TestTransitions(t *testing.T) {
	allowed := lifecycletest.Moves[State]{
		{StateCreated, StateInitializing}: true, {StateCreated, StateError}: true, {StateCreated, StateArchived}: true,
		{StateInitializing, StateReady}: true, {StateInitializing, StateError}: true, {StateInitializing, StateArchived}: true,
		{StateReady, StateInitializing}: true, {StateReady, StateError}: true, {StateReady, StateArchived}: true,
		{StateError, StateInitializing}: true, {StateError, StateArchived}: true,
	}
	lifecycletest.Exhaustive(t, Lifecycle, 5, allowed, StateCreated, StateInitializing, StateReady, StateError)
	// A refusal is a conflict the client reads, wrapping the transition;
	// from archived it is ErrArchived.
	for _, from := range Lifecycle.States() {
		for _, to := range Lifecycle.States() {
			if allowed[[2]State{from, to}] {
				continue
			}
			err := checkMove(from, to)
			var re *rpc.Error
			var te *lifecycle.TransitionError
			if !errors.As(err, &re) || re.Type != methods.Conflict || !errors.As(err, &te) {
				t.Fatalf("refusal %v is not a conflict wrapping the transition", err)
			}
			if from == StateArchived && !errors.Is(err, ErrArchived) {
				t.Fatalf("from archived: %v, want ErrArchived", err)
			}
		}
	}
}
