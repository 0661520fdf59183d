package validate

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// wantField checks err is the invalid_input error of field with reason, or
// nil when reason is "".
func wantField(t *testing.T, err error, field, reason, message string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	var re *rpc.Error
	if !errors.As(err, &re) || re.Type != methods.InvalidInput {
		t.Fatalf("err = %v, want invalid input", err)
	}
	if fe, ok := re.Details.(rpc.FieldError); !ok || fe.Field != field || fe.Reason != reason {
		t.Fatalf("details = %#v, want %s/%s", re.Details, field, reason)
	}
	if re.Message != message {
		t.Fatalf("message = %q, want %q", re.Message, message)
	}
}

func TestSlug(t *testing.T) {
	bad := func(s string) string {
		return fmt.Sprintf("The slug %q must be 1 to 63 lowercase letters, digits or dashes, starting with a letter or digit.", s)
	}
	tests := []struct {
		name, slug, reason string
	}{
		{"letters", "echo", ""},
		{"digits and dashes", "0-agent-2", ""},
		{"63 characters", strings.Repeat("a", 63), ""},
		{"empty", "", "format"},
		{"64 characters", strings.Repeat("a", 64), "format"},
		{"leading dash", "-echo", "format"},
		{"upper case", "Echo", "format"},
		{"underscore", "my_agent", "format"},
		{"dot", "a.b", "format"},
		{"trailing newline", "echo\n", "format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantField(t, Slug("slug", tt.slug), "slug", tt.reason, bad(tt.slug))
		})
	}
}

func TestText(t *testing.T) {
	const msg = "The name must be valid UTF-8 of at most 3 characters."
	tests := []struct {
		name, v, reason string
	}{
		{"empty", "", ""},
		{"at the limit", "abc", ""},
		{"characters, not bytes", "ééé", ""},
		{"over the limit", "abcd", "range"},
		{"invalid UTF-8", "a\xffb", "range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantField(t, Text("name", tt.v, 3), "name", tt.reason, msg)
		})
	}
}
