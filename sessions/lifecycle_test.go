package sessions

import "testing"

func TestLifecycle(t *testing.T) {
	allowed := map[[2]Status]bool{
		{StatusCreating, StatusActive}: true, {StatusCreating, StatusError}: true,
		{StatusActive, StatusEnded}: true, {StatusActive, StatusError}: true,
	}
	all := Lifecycle.States()
	if len(all) != 4 {
		t.Fatalf("states = %v", all)
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				if got := Lifecycle.CanMove(from, to); got != allowed[[2]Status{from, to}] {
					t.Fatalf("CanMove = %v", got)
				}
			})
		}
	}
	for _, s := range all {
		if Lifecycle.Live(s) != (s == StatusCreating || s == StatusActive) {
			t.Errorf("Live(%s) = %v", s, Lifecycle.Live(s))
		}
	}
}
