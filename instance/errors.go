package instance

import (
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Errors of the instance domain, as the client sees them.
var (
	// ErrNotFound answers both a missing instance and another org's.
	ErrNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No instance with this id exists in your organization. Check the instanceId."}
	// ErrArchived refuses new work on an archived instance.
	ErrArchived = &rpc.Error{Type: methods.Conflict,
		Message: "The instance is archived and takes no new work. Create a new instance."}
)
