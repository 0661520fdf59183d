package instance

import (
	"errors"
	"testing"

	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

func TestTransitions(t *testing.T) {
	allowed := map[[2]State]bool{
		{StateCreated, StateInitializing}: true, {StateCreated, StateError}: true, {StateCreated, StateArchived}: true,
		{StateInitializing, StateReady}: true, {StateInitializing, StateError}: true, {StateInitializing, StateArchived}: true,
		{StateReady, StateInitializing}: true, {StateReady, StateError}: true, {StateReady, StateArchived}: true,
		{StateError, StateInitializing}: true, {StateError, StateArchived}: true,
	}
	all := Lifecycle.States()
	if len(all) != 5 {
		t.Fatalf("states = %v", all)
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				err := checkMove(from, to)
				if want := allowed[[2]State{from, to}]; want != (err == nil) {
					t.Fatalf("checkMove = %v, want allowed %v", err, want)
				}
				if err == nil {
					return
				}
				var re *rpc.Error
				var te *lifecycle.TransitionError
				if !errors.As(err, &re) || re.Type != methods.Conflict || !errors.As(err, &te) {
					t.Fatalf("refusal %v is not a conflict wrapping the transition", err)
				}
				if from == StateArchived && !errors.Is(err, ErrArchived) {
					t.Fatalf("from archived: %v, want ErrArchived", err)
				}
			})
		}
	}
	for _, s := range all {
		if Lifecycle.Live(s) != (s != StateArchived) {
			t.Errorf("Live(%s) = %v", s, Lifecycle.Live(s))
		}
	}
}
