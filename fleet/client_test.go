package fleet

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/roosthq/roost/node/nodeapi"
)

func TestCodes(t *testing.T) {
	cases := []struct {
		code   nodeapi.ErrorCode
		status int
	}{
		{nodeapi.CodeNoSandbox, http.StatusNotFound},
		{nodeapi.CodeNoOutput, http.StatusNotFound},
		{nodeapi.CodeNoFile, http.StatusNotFound},
		{nodeapi.CodeStarting, http.StatusConflict},
		{nodeapi.CodePaused, http.StatusConflict},
		{nodeapi.CodeNoAgent, http.StatusConflict},
		{nodeapi.CodeNotListening, http.StatusBadGateway},
		{nodeapi.CodeBadRequest, http.StatusBadRequest},
		{nodeapi.CodeInternal, http.StatusInternalServerError},
	}
	for _, c := range cases {
		t.Run(string(c.code), func(t *testing.T) {
			if got := c.code.Status(); got != c.status {
				t.Fatalf("Status = %d, want %d", got, c.status)
			}
			err := fmt.Errorf("wrapped: %w", &NodeError{NodeID: "n", Status: c.status, Code: c.code, Message: "m"})
			if got := CodeOf(err); got != c.code {
				t.Fatalf("CodeOf = %q", got)
			}
		})
	}
	if CodeOf(errors.New("plain")) != "" || CodeOf(Unavailable("n", nil)) != "" {
		t.Fatal("an error that is no refusal has a code")
	}
}
