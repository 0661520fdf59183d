package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// wantStatus is the contract's table (DESIGN.md §1), written out again here
// so that a change to rpc's table must be made twice, on purpose.
var wantStatus = map[methods.ErrorType]int{
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

func TestStatusCoversEveryErrorType(t *testing.T) {
	if len(wantStatus) != len(methods.ErrorTypes) {
		t.Fatalf("the test table has %d types, methods.ErrorTypes %d: update the table", len(wantStatus), len(methods.ErrorTypes))
	}
	for _, typ := range methods.ErrorTypes {
		t.Run(string(typ), func(t *testing.T) {
			want, ok := wantStatus[typ]
			if !ok {
				t.Fatalf("no expected status for %q", typ)
			}
			if got := rpc.Status(typ); got != want {
				t.Errorf("Status(%q) = %d, want %d", typ, got, want)
			}
		})
	}
	if got := rpc.Status("no_such_type"); got != http.StatusInternalServerError {
		t.Errorf("Status of an unknown type = %d, want 500", got)
	}
}

// errSecret is a cause whose text must never reach a client.
var errSecret = errors.New("dial tcp 10.0.0.7:5432: password=hunter2 refused")

func TestToWire(t *testing.T) {
	notFound := &rpc.Error{Type: methods.NotFound, Message: "No widget with this id exists."}
	type want struct {
		typ     methods.ErrorType
		status  int
		message string // "" = do not check
		details any    // nil = must be nil
	}
	tests := []struct {
		name string
		err  error
		want want
	}{
		{"plain error is internal", errSecret,
			want{methods.Internal, 500, rpc.ErrInternal.Message, nil}},
		{"wrapped plain error is internal", fmt.Errorf("load: %w", errSecret),
			want{methods.Internal, 500, rpc.ErrInternal.Message, nil}},
		{"*Error as is", notFound,
			want{methods.NotFound, 404, notFound.Message, nil}},
		{"*Error wrapped with %w", fmt.Errorf("get widget %s: %w", "w1", notFound),
			want{methods.NotFound, 404, notFound.Message, nil}},
		{"*Error wrapped twice", fmt.Errorf("handler: %w", fmt.Errorf("store: %w", notFound)),
			want{methods.NotFound, 404, notFound.Message, nil}},
		{"*Error with a cause keeps its message", notFound.Wrap(errSecret),
			want{methods.NotFound, 404, notFound.Message, nil}},
		{"details reach the client", rpc.InvalidField("a.b", "required", "The input is missing %q.", "a.b"),
			want{methods.InvalidInput, 400, `The input is missing "a.b".`, rpc.FieldError{Field: "a.b", Reason: "required"}}},
		{"context.DeadlineExceeded is timeout", context.DeadlineExceeded,
			want{methods.Timeout, 504, rpc.ErrDeadline.Message, nil}},
		{"wrapped DeadlineExceeded is timeout", fmt.Errorf("query: %w", context.DeadlineExceeded),
			want{methods.Timeout, 504, rpc.ErrDeadline.Message, nil}},
		{"context.Canceled is unavailable", context.Canceled,
			want{methods.Unavailable, 503, rpc.ErrCanceled.Message, nil}},
		{"wrapped Canceled is unavailable", fmt.Errorf("query: %w", context.Canceled),
			want{methods.Unavailable, 503, rpc.ErrCanceled.Message, nil}},
		{"*Error beats a context error in its chain", rpc.ErrInternal.Wrap(context.DeadlineExceeded),
			want{methods.Internal, 500, rpc.ErrInternal.Message, nil}},
		{"*Error of an unknown type is internal", &rpc.Error{Type: "teapot", Message: "I am a teapot: " + errSecret.Error()},
			want{methods.Internal, 500, rpc.ErrInternal.Message, nil}},
		{"errors.Join finds the *Error", errors.Join(errSecret, notFound),
			want{methods.NotFound, 404, notFound.Message, nil}},
	}
	for _, typ := range methods.ErrorTypes {
		e := rpc.Errorf(typ, "Something about %s went wrong.", typ)
		tests = append(tests, struct {
			name string
			err  error
			want want
		}{"type " + string(typ) + " wrapped", fmt.Errorf("ctx: %w", e), want{typ, wantStatus[typ], e.Message, nil}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, w := rpc.ToWire(tt.err)
			if w.Type != tt.want.typ || status != tt.want.status {
				t.Fatalf("ToWire = %d %q, want %d %q", status, w.Type, tt.want.status, tt.want.typ)
			}
			if status != rpc.Status(w.Type) {
				t.Errorf("status %d does not match Status(%q) = %d", status, w.Type, rpc.Status(w.Type))
			}
			if tt.want.message != "" && w.Message != tt.want.message {
				t.Errorf("message = %q, want %q", w.Message, tt.want.message)
			}
			if w.Details != tt.want.details {
				t.Errorf("details = %#v, want %#v", w.Details, tt.want.details)
			}
			for _, leak := range []string{"hunter2", "10.0.0.7", "teapot"} {
				if strings.Contains(w.Message, leak) {
					t.Errorf("message %q leaks the cause (%q)", w.Message, leak)
				}
			}
		})
	}
}

func TestErrorIsOnCopies(t *testing.T) {
	base := &rpc.Error{Type: methods.Conflict, Message: "The widget is frozen."}
	other := &rpc.Error{Type: methods.Conflict, Message: "The widget is archived."}
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"itself", base, base, true},
		{"Wrap copy", base.Wrap(errSecret), base, true},
		{"WithDetails copy", base.WithDetails(map[string]string{"id": "w1"}), base, true},
		{"Wrap of WithDetails", base.WithDetails(1).Wrap(errSecret), base, true},
		{"Wrap copy wrapped by %w", fmt.Errorf("op: %w", base.Wrap(errSecret)), base, true},
		{"copy finds its cause", base.Wrap(errSecret), errSecret, true},
		{"copy finds a wrapped context error", base.Wrap(fmt.Errorf("q: %w", context.Canceled)), context.Canceled, true},
		{"same type, other message", base.Wrap(errSecret), other, false},
		{"other type, same message", base, &rpc.Error{Type: methods.NotFound, Message: base.Message}, false},
		{"plain error is not it", errSecret, base, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCopiesLeaveTheOriginalAlone(t *testing.T) {
	base := &rpc.Error{Type: methods.NotFound, Message: "Nothing here."}
	w := base.Wrap(errSecret)
	d := base.WithDetails("x")
	if base.Cause != nil || base.Details != nil {
		t.Fatalf("the original changed: %#v", base)
	}
	if w == base || d == base {
		t.Fatal("Wrap/WithDetails returned the original, not a copy")
	}
	if w.Cause != errSecret || d.Details != "x" {
		t.Errorf("copies lost what was attached: %#v %#v", w, d)
	}
	var as *rpc.Error
	if !errors.As(fmt.Errorf("x: %w", w), &as) || as != w {
		t.Errorf("errors.As did not find the wrapped copy")
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *rpc.Error
		want string
	}{
		{"no cause", rpc.Errorf(methods.NotFound, "No %s.", "widget"), "not_found: No widget."},
		{"with cause (logs only)", rpc.Errorf(methods.Internal, "Failed.").Wrap(errors.New("disk full")), "internal: Failed.: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
