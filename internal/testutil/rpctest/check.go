package rpctest

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/methods"
)

// Keys returns the sorted keys of a JSON object.
func Keys(t testing.TB, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WantKeys checks that a JSON object has exactly these keys.
func WantKeys(t testing.TB, what string, raw json.RawMessage, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := Keys(t, raw); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s has keys %v, want exactly %v: %s", what, got, want, raw)
	}
}

// Field returns the raw JSON of one key of an object.
func Field(t testing.TB, raw json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	v, ok := m[key]
	if !ok {
		t.Fatalf("no key %q in %s", key, raw)
	}
	return v
}

// Decode decodes raw JSON into a T.
func Decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, raw)
	}
	return v
}

// WantOK checks a success reply, {"ok": true, "value": ...} and nothing
// else, and returns the value.
func WantOK(t testing.TB, r Reply) json.RawMessage {
	t.Helper()
	if r.Status != http.StatusOK || !r.OK || r.Error != nil {
		t.Fatalf("want 200 ok, got %s", r)
	}
	WantKeys(t, "success reply", r.Body, "ok", "value")
	return r.Value
}

// WantError checks a failure reply, {"ok": false, "error": {...}} and
// nothing else: the status, the type, and a message that is a sentence.
func WantError(t testing.TB, r Reply, status int, typ methods.ErrorType) {
	t.Helper()
	if r.Status != status || r.OK || r.Error == nil || r.Error.Type != typ {
		t.Fatalf("want HTTP %d %s, got %s", status, typ, r)
	}
	WantKeys(t, "failure reply", r.Body, "ok", "error")
	if string(Field(t, r.Body, "ok")) != "false" {
		t.Errorf("failure reply has ok != false: %s", r.Body)
	}
	WantSentence(t, r.Error.Message)
}

// WantFieldError checks an invalid_input reply whose details name the
// field (its path) and, unless reason is "", the reason.
func WantFieldError(t testing.TB, r Reply, fieldPath, reason string) {
	t.Helper()
	WantError(t, r, http.StatusBadRequest, methods.InvalidInput)
	var d struct {
		Field  *string `json:"field"`
		Reason string  `json:"reason"`
	}
	if err := json.Unmarshal(r.Error.Details, &d); err != nil || d.Field == nil {
		t.Fatalf("invalid_input without details.field: %s", r)
	}
	if *d.Field != fieldPath {
		t.Errorf("details.field = %q, want %q (%s)", *d.Field, fieldPath, r)
	}
	if reason != "" && d.Reason != reason {
		t.Errorf("details.reason = %q, want %q (%s)", d.Reason, reason, r)
	}
}

// WantSentence checks that a message is a sentence a person can act on.
// A sentence may start with a field name or a path, so only its end, its
// words and its lines are checked.
func WantSentence(t testing.TB, msg string) {
	t.Helper()
	if !strings.HasSuffix(msg, ".") || !strings.Contains(msg, " ") || strings.Contains(msg, "%!") || strings.Contains(msg, "\n") {
		t.Errorf("message %q is not a sentence", msg)
	}
}

// WantClientError checks an error the Go client returned: its status and
// type, a sentence, and the details' field when field is not "".
func WantClientError(t testing.TB, err error, status int, typ methods.ErrorType, field string) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want a %s (%d) failure, got %v", typ, status, err)
	}
	if ce.Status != status || ce.Type != typ {
		t.Fatalf("want %s (%d), got %v", typ, status, ce)
	}
	WantSentence(t, ce.Message)
	if field != "" {
		var d struct {
			Field string `json:"field"`
		}
		if err := json.Unmarshal(ce.Details, &d); err != nil || d.Field != field {
			t.Errorf("details.field = %q, want %q (details %s)", d.Field, field, ce.Details)
		}
	}
	return ce
}

// ParseTime checks that s is an RFC 3339 time and returns it.
func ParseTime(t testing.TB, what, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s %q is not RFC 3339: %v", what, s, err)
	}
	return tm
}

// Within checks that tm lies in [from, to], with a second of slack for
// the second-precision times of tokens.
func Within(t testing.TB, what string, tm, from, to time.Time) {
	t.Helper()
	if tm.Before(from.Add(-time.Second)) || tm.After(to.Add(time.Second)) {
		t.Errorf("%s = %s, want between %s and %s", what, tm, from, to)
	}
}

// Ptr returns a pointer to v, for the optional fields of inputs.
func Ptr[T any](v T) *T { return &v }

// Deref is *s, or "" for nil: the optional strings of outputs.
func Deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
