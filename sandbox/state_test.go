package sandbox

import (
	"errors"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

func TestTransitions(t *testing.T) {
	all := []State{Creating, Running, Paused, Terminating, Terminated, Failed}
	allowed := map[[2]State]bool{
		{Creating, Running}: true, {Creating, Terminating}: true, {Creating, Failed}: true,
		{Running, Paused}: true, {Running, Terminating}: true, {Running, Failed}: true,
		{Paused, Running}: true, {Paused, Terminating}: true, {Paused, Failed}: true,
		{Terminating, Terminated}: true, {Terminating, Failed}: true,
		{Failed, Terminating}: true, {Failed, Terminated}: true,
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				if got := CanMove(from, to); got != allowed[[2]State{from, to}] {
					t.Fatalf("CanMove = %v", got)
				}
				if allowed[[2]State{from, to}] {
					return
				}
				err := illegal(from, to)
				var re *rpc.Error
				var te *TransitionError
				if !errors.As(err, &re) || re.Type != methods.Conflict || !errors.As(err, &te) || te.From != from || te.To != to {
					t.Fatalf("illegal(%s, %s) = %v, want a conflict wrapping the transition", from, to, err)
				}
			})
		}
	}
	for _, s := range all {
		want := s == Creating || s == Running || s == Paused || s == Terminating
		if s.Live() != want {
			t.Errorf("%s.Live() = %v", s, s.Live())
		}
	}
}
