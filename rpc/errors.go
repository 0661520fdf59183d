package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/roosthq/roost/methods"
)

// statusOf is the one table of HTTP statuses for the wire error types.
var statusOf = map[methods.ErrorType]int{
	methods.InvalidInput:    http.StatusBadRequest,
	methods.Unauthorized:    http.StatusUnauthorized,
	methods.Forbidden:       http.StatusForbidden,
	methods.NotFound:        http.StatusNotFound,
	methods.MethodNotFound:  http.StatusNotFound,
	methods.Conflict:        http.StatusConflict,
	methods.PayloadTooLarge: http.StatusRequestEntityTooLarge,
	methods.RateLimited:     http.StatusTooManyRequests,
	methods.Internal:        http.StatusInternalServerError,
	methods.Unavailable:     http.StatusServiceUnavailable,
	methods.Timeout:         http.StatusGatewayTimeout,
}

// Status is the HTTP status that goes with an error type.
func Status(t methods.ErrorType) int {
	if s, ok := statusOf[t]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an error a client may see: a wire type, a sentence for a person,
// optional structured details, and an optional cause that is logged but never
// sent. Domain packages declare their errors as *Error values and wrap them
// with %w; errors.Is compares by identity, errors.As finds the wire form.
type Error struct {
	Type    methods.ErrorType
	Message string
	Details any
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Type, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Type, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf makes an *Error with a formatted message.
func Errorf(t methods.ErrorType, format string, args ...any) *Error {
	return &Error{Type: t, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns a copy of e carrying details.
func (e *Error) WithDetails(d any) *Error {
	c := *e
	c.Details = d
	return &c
}

// Wrap returns a copy of e with cause attached; the copy still answers
// errors.Is(copy, e) because Is compares the type and message.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// Is makes copies made by WithDetails or Wrap match the original value.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Type == e.Type && t.Message == e.Message
}

// FieldError is the details of an invalid_input error about one field.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// InvalidField makes an invalid_input error about one field. reason is a
// short machine word (required, unknown, type, range, format); message is the
// sentence a person reads.
func InvalidField(field, reason, format string, args ...any) *Error {
	return &Error{
		Type:    methods.InvalidInput,
		Message: fmt.Sprintf(format, args...),
		Details: FieldError{Field: field, Reason: reason},
	}
}

// Canned errors of the core.
var (
	ErrInternal = &Error{Type: methods.Internal,
		Message: "The server failed to handle this request. Retry later; if it persists, report the X-Request-Id header of this reply."}
	ErrCanceled = &Error{Type: methods.Unavailable,
		Message: "The request was cancelled before it finished. Retry it."}
	ErrDeadline = &Error{Type: methods.Timeout,
		Message: "The request did not finish in time. Retry it, or retry later if the server is busy."}
)

// ToWire turns any error into what the client sees: the HTTP status and the
// wire error. It is the one place errors become wire codes. Errors that are
// not *Error become internal, and their text never reaches the client.
func ToWire(err error) (int, methods.Error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.DeadlineExceeded):
		e = ErrDeadline
	case errors.Is(err, context.Canceled):
		e = ErrCanceled
	default:
		e = ErrInternal
	}
	if _, known := statusOf[e.Type]; !known {
		e = ErrInternal
	}
	return Status(e.Type), methods.Error{Type: e.Type, Message: e.Message, Details: e.Details}
}
