package instance

import (
	"errors"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

func TestTransitions(t *testing.T) {
	all := []State{StateCreated, StateInitializing, StateReady, StateError, StateArchived}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				err := checkMove(from, to)
				switch {
				case from == StateArchived:
					if !errors.Is(err, ErrArchived) {
						t.Fatalf("from archived: %v, want ErrArchived", err)
					}
				case from == to:
					if err == nil {
						t.Fatal("a move to the same state is not a transition")
					}
				case to == StateArchived:
					if err != nil {
						t.Fatalf("archiving from %s refused: %v", from, err)
					}
				case from == StateError && to == StateReady:
					if err == nil {
						t.Fatal("error → ready must pass through initializing")
					}
				}
				if err != nil {
					var re *rpc.Error
					var te *TransitionError
					if !errors.As(err, &re) || re.Type != methods.Conflict || !errors.As(err, &te) {
						t.Fatalf("refusal %v is not a conflict wrapping the transition", err)
					}
				}
			})
		}
	}
}
