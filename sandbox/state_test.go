package sandbox

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/lifecycle/lifecycletest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

func TestTransitions(t *testing.T) {
	allowed := lifecycletest.Moves[State]{
		{Creating, Running}: true, {Creating, Terminating}: true, {Creating, Failed}: true,
		{Running, Paused}: true, {Running, Terminating}: true, {Running, Failed}: true,
		{Paused, Running}: true, {Paused, Terminating}: true, {Paused, Failed}: true,
		{Terminating, Terminated}: true, {Terminating, Failed}: true,
		{Failed, Terminating}: true, {Failed, Terminated}: true,
	}
	lifecycletest.Exhaustive(t, Lifecycle, 6, allowed, Creating, Running, Paused, Terminating)
	// A refusal is a conflict the client reads, wrapping the transition.
	for _, from := range Lifecycle.States() {
		for _, to := range Lifecycle.States() {
			if allowed[[2]State{from, to}] {
				continue
			}
			err := illegal(from, to)
			var re *rpc.Error
			var te *lifecycle.TransitionError
			if !errors.As(err, &re) || re.Type != methods.Conflict || !errors.As(err, &te) || te.From != string(from) || te.To != string(to) {
				t.Fatalf("illegal(%s, %s) = %v, want a conflict wrapping the transition", from, to, err)
			}
		}
	}
}

// The schema's one-live-sandbox index must name exactly the live states.
func TestLiveIndexMatchesTable(t *testing.T) {
	b, err := storage.MigrationSQL("0004_sandboxes.sql")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)sandboxes_one_live ON sandboxes \(instance_id\)\s+WHERE state IN \(([^)]*)\)`).FindStringSubmatch(b)
	if m == nil {
		t.Fatal("no sandboxes_one_live index in the schema")
	}
	if got, want := strings.TrimSpace(m[1]), Lifecycle.LiveSQL(); got != want {
		t.Fatalf("index lists %s; the lifecycle's live states are %s", got, want)
	}
}
