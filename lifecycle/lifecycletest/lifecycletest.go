// Package lifecycletest holds a lifecycle table to what its noun's tests
// say: every pair of states, moved or refused, and the live set.
package lifecycletest

import (
	"testing"

	"github.com/roosthq/roost/lifecycle"
)

// Moves are the allowed moves of a table, as from → to pairs.
type Moves[S ~string] map[[2]S]bool

// Exhaustive checks every pair of the table's states against allowed, the
// number of states, and that exactly live are live.
func Exhaustive[S ~string](t *testing.T, tb *lifecycle.Table[S], states int, allowed Moves[S], live ...S) {
	t.Helper()
	all := tb.States()
	if len(all) != states {
		t.Fatalf("%s states = %v, want %d of them", tb.Noun(), all, states)
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				want := allowed[[2]S{from, to}]
				if got := tb.CanMove(from, to); got != want {
					t.Fatalf("CanMove = %v, want %v", got, want)
				}
				if err := tb.Check(from, to); (err == nil) != want {
					t.Fatalf("Check = %v", err)
				}
			})
		}
	}
	isLive := map[S]bool{}
	for _, s := range live {
		isLive[s] = true
	}
	for _, s := range all {
		if tb.Live(s) != isLive[s] {
			t.Errorf("%s Live(%s) = %v", tb.Noun(), s, tb.Live(s))
		}
	}
}
