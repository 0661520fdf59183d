package methods

// ErrorType is the machine-readable kind of an RPC failure. The set is
// closed: a client may switch on it exhaustively. The HTTP status that goes
// with each type is kept in one table in package rpc.
type ErrorType string

// The error types, in the order of their HTTP statuses.
const (
	// InvalidInput: the request or its input is malformed, has an unknown or
	// wrong-typed field, misses a required field or breaks a rule. 400.
	InvalidInput ErrorType = "invalid_input"
	// Unauthorized: no credential, or one that is malformed, unknown,
	// revoked, expired or not valid for this endpoint. 401.
	Unauthorized ErrorType = "unauthorized"
	// Forbidden: the credential is valid but may not call this method. 403.
	Forbidden ErrorType = "forbidden"
	// NotFound: the object does not exist or belongs to someone else. 404.
	NotFound ErrorType = "not_found"
	// MethodNotFound: no method of that name on this endpoint. 404.
	MethodNotFound ErrorType = "method_not_found"
	// Conflict: the object's state does not allow the operation. 409.
	Conflict ErrorType = "conflict"
	// PayloadTooLarge: the request body is over the limit. 413.
	PayloadTooLarge ErrorType = "payload_too_large"
	// RateLimited: too many requests; retry later. 429.
	RateLimited ErrorType = "rate_limited"
	// Internal: a fault of the server; the message carries no detail. 500.
	Internal ErrorType = "internal"
	// Unavailable: a dependency (a node, storage) cannot serve now. 503.
	Unavailable ErrorType = "unavailable"
	// Timeout: the operation did not finish in time. 504.
	Timeout ErrorType = "timeout"
)

// ErrorTypes lists every error type, for exhaustive tests and the schema.
var ErrorTypes = []ErrorType{
	InvalidInput, Unauthorized, Forbidden, NotFound, MethodNotFound, Conflict,
	PayloadTooLarge, RateLimited, Internal, Unavailable, Timeout,
}

// Error is the wire form of a failure: {"type", "message", "details"?}.
type Error struct {
	Type    ErrorType `json:"type"`
	Message string    `json:"message"`
	Details any       `json:"details,omitempty"`
}

// Request is the RPC envelope a client sends.
type Request struct {
	Method string `json:"method" required:"true"`
	Input  any    `json:"input,omitempty"`
}

// Reply is the RPC envelope the server answers: Value on success, Error on
// failure.
type Reply struct {
	OK    bool   `json:"ok"`
	Value any    `json:"value,omitempty"`
	Error *Error `json:"error,omitempty"`
}

// OKOutput is the output of actions that return nothing but success.
type OKOutput struct {
	OK bool `json:"ok"`
}
