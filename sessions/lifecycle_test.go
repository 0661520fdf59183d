package sessions

import (
	"testing"

	"github.com/roosthq/roost/lifecycle/lifecycletest"
)

func TestLifecycle(t *testing.T) {
	lifecycletest.Exhaustive(t, Lifecycle, 4, lifecycletest.Moves[Status]{
		{StatusCreating, StatusActive}: true, {StatusCreating, StatusError}: true,
		{StatusActive, StatusEnded}: true, {StatusActive, StatusError}: true,
	}, StatusCreating, StatusActive)
}
