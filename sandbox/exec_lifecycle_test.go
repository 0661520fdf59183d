package sandbox

import "testing"

func TestExecLifecycle(t *testing.T) {
	all := ExecLifecycle.States()
	if len(all) != 5 {
		t.Fatalf("states = %v", all)
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				want := from == ExecRunning && to != ExecRunning
				if got := ExecLifecycle.CanMove(from, to); got != want {
					t.Fatalf("CanMove = %v, want %v", got, want)
				}
			})
		}
	}
	for _, s := range all {
		if ExecLifecycle.Live(s) != (s == ExecRunning) {
			t.Errorf("Live(%s) = %v", s, ExecLifecycle.Live(s))
		}
	}
}
