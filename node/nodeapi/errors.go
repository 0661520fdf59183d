package nodeapi

import "net/http"

// ErrorCode is why a node (or a sandbox's supervisor) refused a call: a
// closed set, so that the platform decides by code and never by a
// message's text.
type ErrorCode string

// The codes a node answers with.
const (
	// CodeNoSandbox: the node does not run this sandbox.
	CodeNoSandbox ErrorCode = "no_sandbox"
	// CodeStarting: the sandbox is being started on the node; retry.
	CodeStarting ErrorCode = "starting"
	// CodePaused: the sandbox is frozen and takes no work.
	CodePaused ErrorCode = "paused"
	// CodeNoAgent: the sandbox runs no agent (its instance has no bundle).
	CodeNoAgent ErrorCode = "no_agent"
	// CodeNotListening: nothing in the sandbox listens on the port.
	CodeNotListening ErrorCode = "not_listening"
	// CodeNoOutput: the command's output is not on the node.
	CodeNoOutput ErrorCode = "no_output"
	// CodeNoFile: no such file in the workspace.
	CodeNoFile ErrorCode = "no_file"
	// CodeClaimed: the warm pool member was claimed already (or is not
	// one); the node starts the sandbox cold instead.
	CodeClaimed ErrorCode = "claimed"
	// CodeBadRequest: the request is malformed (a platform bug).
	CodeBadRequest ErrorCode = "bad_request"
	// CodeInternal: the node failed; the message says how.
	CodeInternal ErrorCode = "internal"
)

// Status is the HTTP status a node answers a code with.
func (c ErrorCode) Status() int {
	switch c {
	case CodeNoSandbox, CodeNoOutput, CodeNoFile:
		return http.StatusNotFound
	case CodeStarting, CodePaused, CodeNoAgent, CodeClaimed:
		return http.StatusConflict
	case CodeNotListening:
		return http.StatusBadGateway
	case CodeBadRequest:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
