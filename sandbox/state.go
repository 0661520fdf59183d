package sandbox

import (
	"errors"

	"github.com/roosthq/roost/lifecycle"
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

// Lifecycle is the sandbox's table of allowed moves; nothing else happens.
// Its live states hold the instance's one sandbox (the sandboxes_one_live
// index of the schema says the same, and a test holds the two together).
// Its events are the instance's history, as sandbox_<state>.
var Lifecycle = lifecycle.New("sandbox", lifecycle.Rows{Table: "sandboxes", Column: "state", Touched: "updated_at", History: true,
	Event: func(to string) string { return "sandbox_" + to }},
	map[State][]State{
		Creating:    {Running, Terminating, Failed},
		Running:     {Paused, Terminating, Failed},
		Paused:      {Running, Terminating, Failed},
		Terminating: {Terminated, Failed},
		Failed:      {Terminating, Terminated},
		Terminated:  {},
	}, Creating, Running, Paused, Terminating)

// Live states hold the instance's one sandbox.
func (s State) Live() bool { return Lifecycle.Live(s) }

// illegal is the conflict the client reads for a refused move, wrapping
// the *lifecycle.TransitionError.
func illegal(from, to State) error {
	return conflict(Lifecycle.Check(from, to))
}

func conflict(err error) error {
	var te *lifecycle.TransitionError
	if !errors.As(err, &te) {
		return err
	}
	return rpc.Errorf(methods.Conflict, "The sandbox is %s and cannot become %s.", te.From, te.To).Wrap(te)
}
