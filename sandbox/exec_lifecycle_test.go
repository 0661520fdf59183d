package sandbox

import (
	"testing"

	"github.com/roosthq/roost/lifecycle/lifecycletest"
)

func TestExecLifecycle(t *testing.T) {
	lifecycletest.Exhaustive(t, ExecLifecycle, 5, lifecycletest.Moves[ExecStatus]{
		{ExecRunning, ExecCompleted}: true, {ExecRunning, ExecFailed}: true,
		{ExecRunning, ExecTimedOut}: true, {ExecRunning, ExecCancelled}: true,
	}, ExecRunning)
}
